import type { IncomingHttpHeaders, RequestListener } from "node:http";
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type TextMapGetter,
  type Tracer as OtelTracer,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import type { Config, SpanAttributes, TraceSpan, Tracer } from "@talos/core";
import type { Logger, RequestObserver } from "@talos/http";

/** OpenTelemetry behind core's tracing seam (docs/observability.md#tracing); built only when tracing.enabled. */
export interface Tracing {
  /** what core's verifier and the store wrapper start their spans with */
  readonly tracer: Tracer;
  readonly otel: OtelTracer;
  /** one SERVER span per request, continuing an incoming traceparent, active while the listener runs */
  wrapListener(listener: RequestListener): RequestListener;
  /** names the request's span after its route, once the app knows it (never the raw URL: it may hold a pasted secret) */
  observeRequest: RequestObserver;
  /** exports every finished span now */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key],
};

let contextManagerSet = false;

/** OTLP/HTTP traces URL from tracing.endpoint: host:port gets http://, an empty path gets /v1/traces. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(/^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/traces";
  return url.toString();
}

export function createTracing(cfg: Config["tracing"], version: string, logger?: Logger): Tracing {
  // one context manager per process (AsyncLocalStorage); it carries the active span across awaits
  if (!contextManagerSet) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const resource: Attributes = { "service.name": cfg.service_name, "service.version": cfg.service_version || version };
  if (cfg.environment) resource["deployment.environment.name"] = cfg.environment;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sample_rate) }),
    spanProcessors: [new BatchSpanProcessor(warnOnFailure(new OTLPTraceExporter({ url: tracesUrl(cfg.endpoint) }), tracesUrl(cfg.endpoint), logger))],
  });
  const otel = provider.getTracer("talos", version);
  const propagator = new W3CTraceContextPropagator();
  const serverSpans = new WeakSet<Span>();

  // Inner spans exist only under a recording span: an unsampled request (most of them at the default
  // rate) skips span creation, and work outside a request starts no traces of its own.
  const tracer: Tracer = {
    start: (name, attrs) => (trace.getActiveSpan()?.isRecording() ? wrap(otel.startSpan(name, { attributes: attrs })) : NOOP_SPAN),
    run(name, attrs, fn) {
      if (!trace.getActiveSpan()?.isRecording()) return fn(NOOP_SPAN);
      return otel.startActiveSpan(name, { attributes: attrs }, async (span) => {
        try {
          return await fn(wrap(span));
        } catch (e) {
          // the error's message may quote bound parameters (drizzle): only its class is recorded
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.name : "error" });
          throw e;
        } finally {
          span.end();
        }
      });
    },
    event(name, attrs) {
      trace.getActiveSpan()?.addEvent(name, attrs);
    },
  };

  return {
    tracer,
    otel,
    wrapListener(listener) {
      return (req, res) => {
        const parent = propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
        const method = req.method ?? "GET";
        const span = otel.startSpan(method, { kind: SpanKind.SERVER, attributes: { "http.request.method": method } }, parent);
        // not sampled: nothing below would record, so the request runs outside any trace context
        if (!span.isRecording()) return listener(req, res);
        serverSpans.add(span);
        res.once("close", () => {
          span.setAttribute("http.response.status_code", res.statusCode);
          if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        });
        context.with(trace.setSpan(parent, span), () => listener(req, res));
      };
    },
    observeRequest(r) {
      const span = trace.getActiveSpan();
      if (!span || !serverSpans.has(span)) return;
      span.updateName(`${r.method} ${r.route}`);
      span.setAttributes({ "http.route": r.route, "url.path": r.path, "talos.request_id": r.requestId });
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

const EXPORT_WARN_INTERVAL_MS = 5 * 60_000;

/** The exporter, with a warning when an export fails (at most one per 5 minutes: a down collector would repeat it every batch). */
function warnOnFailure(exporter: SpanExporter, url: string, logger: Logger | undefined): SpanExporter {
  let warnedAt = -Infinity;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        const now = Date.now();
        if (result.code !== ExportResultCode.SUCCESS && logger && now - warnedAt >= EXPORT_WARN_INTERVAL_MS) {
          warnedAt = now;
          // the error's name only: collector answers are not ours to copy into logs
          logger.warn(
            { endpoint: url, spans: spans.length, error: result.error?.name ?? "unknown" },
            "tracing: exporting spans failed; they are dropped",
          );
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

const NOOP_SPAN: TraceSpan = { set: () => {}, fail: () => {}, end: () => {} };

function wrap(span: Span): TraceSpan {
  return {
    set: (k, v) => void span.setAttribute(k, v),
    fail: (reason) => void span.setStatus({ code: SpanStatusCode.ERROR, message: reason }),
    end: () => span.end(),
  };
}

export type { SpanAttributes };
