export * from "./permissions.js";
export * from "./static-tokens.js";
export { createJwtAuthenticator } from "./jwt.js";
export { createClientCertMatcher, type ClientCertificate } from "./mtls.js";
