/**
 * The tracing seam (docs/observability.md#tracing): core names its spans here and knows nothing of
 * OpenTelemetry; packages/server implements Tracer with the OTel SDK. Off means no Tracer at all
 * (null), so the hot path pays one null check per step, not a call.
 */
export type SpanValue = string | number | boolean;
export type SpanAttributes = Record<string, SpanValue>;

export interface TraceSpan {
  set(key: string, value: SpanValue): void;
  /** marks the span as failed; `reason` must never hold a credential or a raw driver message */
  fail(reason: string): void;
  end(): void;
}

export interface Tracer {
  /** A child of the active span, not made active itself (a leaf step). */
  start(name: string, attrs?: SpanAttributes): TraceSpan;
  /** Runs fn with a new span active, so spans started inside it are its children; ends it when fn settles. */
  run<T>(name: string, attrs: SpanAttributes | undefined, fn: (span: TraceSpan) => Promise<T>): Promise<T>;
  /** An event on the active span, if any (audit events). */
  event(name: string, attrs?: SpanAttributes): void;
}
