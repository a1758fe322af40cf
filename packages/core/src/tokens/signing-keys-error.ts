/** A signing-key URL or JWK that cannot be used: a start-up error. Messages never contain key material. */
export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SigningKeyError";
  }
}
