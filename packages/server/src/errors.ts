/** A start-up failure the operator can fix (schema behind, bad signing key): one line, exit 1. */
export class StartupError extends Error {}
