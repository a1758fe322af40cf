/** Minimal types for the npm `macaroon` package (v3, no bundled types): the parts the tests use. */
declare module "macaroon" {
  export interface Macaroon {
    readonly location: string;
    readonly identifier: Uint8Array;
    readonly signature: Uint8Array;
    readonly caveats: { identifier: Uint8Array; location?: string; vid?: Uint8Array }[];
    addFirstPartyCaveat(caveatId: string | Uint8Array): void;
    addThirdPartyCaveat(rootKey: Uint8Array, caveatId: string | Uint8Array, location?: string): void;
    /** throws when the signature or a caveat check fails; `check` returns an error string or null */
    verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
    exportBinary(): Uint8Array;
  }
  export function newMacaroon(opts: { identifier: string | Uint8Array; location?: string; rootKey: string | Uint8Array; version?: number }): Macaroon;
  export function importMacaroon(obj: Uint8Array | string | object): Macaroon;
  export function base64ToBytes(s: string): Uint8Array;
  export function bytesToBase64(bytes: Uint8Array): string;
  const _default: {
    newMacaroon: typeof newMacaroon;
    importMacaroon: typeof importMacaroon;
    base64ToBytes: typeof base64ToBytes;
    bytesToBase64: typeof bytesToBase64;
  };
  export default _default;
}
