/** Injected time source so tests can pin the clock (docs/compatibility.md#test-vectors vectors). Milliseconds since epoch. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
