/** Injected time source so tests can pin the clock (SPEC.md §22 vectors). Milliseconds since epoch. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
