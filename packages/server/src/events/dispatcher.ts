import {
  EVENTS_CHANNEL,
  scanExpiry,
  webhookBody,
  VERSION,
  type ClaimedDelivery,
  type Config,
  type ServiceContext,
  type WebhookConfig,
} from "@talos/core";
import { Webhook } from "standardwebhooks";
import { backoffMs } from "./backoff.js";

export type DeliveryOutcomeLabel = "delivered" | "failed" | "dead";

export interface EventWorkerDeps {
  ctx: ServiceContext;
  /** the current webhooks (a function, so a configuration reload can swap them) */
  webhooks?: () => WebhookConfig[];
  warn: (msg: string) => void;
  observe?: (webhookId: string, outcome: DeliveryOutcomeLabel) => void;
}

/** Error text of a failed attempt: status or the kind of network failure, never a header or body. */
function describeFailure(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === "TimeoutError" || e.name === "AbortError") return "timeout";
    const cause = (e as { cause?: { code?: string } }).cause;
    return cause?.code ? `network error ${cause.code}` : "network error";
  }
  return "network error";
}

/**
 * The background side of the outbox (docs/events.md#delivery): claims due deliveries with
 * FOR UPDATE SKIP LOCKED under a lease, posts them signed per Standard Webhooks, records the outcome,
 * and runs the expiry scan and pruning. Safe with any number of instances on one database.
 */
export class EventWorker {
  private readonly cfg: Config["events"];
  private readonly inFlight = new Map<string, number>();
  private readonly signers = new Map<string, Webhook>();
  private readonly pending = new Set<Promise<void>>();
  private pollTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private ticking = false;
  private again = false;
  private closed = false;

  constructor(private readonly d: EventWorkerDeps) {
    this.cfg = d.ctx.config.events;
  }

  private webhooks(): WebhookConfig[] {
    return this.d.webhooks?.() ?? this.cfg.webhooks;
  }

  async start(): Promise<void> {
    if (!this.cfg.enabled) return;
    try {
      this.unlisten = await this.d.ctx.store.listen(
        EVENTS_CHANNEL,
        () => this.kick(),
        () => this.kick(),
      );
    } catch {
      this.d.warn("events: LISTEN failed; the dispatcher polls only");
    }
    this.pollTimer = setInterval(() => this.kick(), this.cfg.delivery.poll_interval);
    this.pollTimer.unref();
    const scan = () => {
      scanExpiry(this.d.ctx)
        .catch(() => this.d.warn("events: expiry scan failed; retried at the next interval"))
        .finally(() => {
          if (!this.closed) this.scanTimer = setTimeout(scan, this.cfg.scan_interval).unref();
        });
    };
    this.scanTimer = setTimeout(scan, Math.min(this.cfg.scan_interval, 1_000)).unref();
    this.kick();
  }

  /** Look for due deliveries now (coalesced: one pass at a time, another after it when asked meanwhile). */
  kick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.tick()
      .catch(() => this.d.warn("events: claiming deliveries failed; retried at the next poll"))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async tick(): Promise<void> {
    const { delivery } = this.cfg;
    for (const w of this.webhooks()) {
      const free = delivery.concurrency - (this.inFlight.get(w.id) ?? 0);
      if (free <= 0 || this.closed) continue;
      const now = this.d.ctx.clock();
      // the lease outlasts one attempt: a process killed mid-delivery frees its rows when it ends
      const leaseUntil = new Date(now + delivery.timeout * 2 + 5_000);
      const claimed = await this.d.ctx.store.transaction((repo) => repo.events.claim(w.id, free, new Date(now), leaseUntil));
      for (const c of claimed) this.track(this.deliver(w, c));
    }
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }

  private signer(w: WebhookConfig): Webhook {
    let s = this.signers.get(w.secret);
    if (!s) {
      s = new Webhook(w.secret);
      this.signers.set(w.secret, s);
    }
    return s;
  }

  private async deliver(w: WebhookConfig, c: ClaimedDelivery): Promise<void> {
    const { delivery } = this.cfg;
    this.inFlight.set(w.id, (this.inFlight.get(w.id) ?? 0) + 1);
    let status: number | null = null;
    let error = "";
    try {
      const body = webhookBody(c.event);
      const sentAt = new Date(this.d.ctx.clock());
      const res = await fetch(w.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": `talos/${VERSION}`,
          "webhook-id": c.event.id,
          "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
          "webhook-signature": this.signer(w).sign(c.event.id, sentAt, body),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(delivery.timeout),
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (e) {
      error = describeFailure(e);
    }
    const attempts = c.attempts + 1;
    const now = this.d.ctx.clock();
    const ok = error === "";
    const dead = !ok && attempts >= delivery.max_attempts;
    const state = ok ? "delivered" : dead ? "dead" : "pending";
    const next = ok || dead ? now : now + backoffMs(attempts, delivery.backoff_base, delivery.backoff_max);
    try {
      await this.d.ctx.store.repo.events.finish(c.event.id, w.id, {
        state,
        attempts,
        nextAttemptTime: new Date(next),
        time: new Date(now),
        status,
        error,
      });
    } catch {
      // the lease runs out and another pass retries: at least once, never lost
      this.d.warn("events: recording a delivery outcome failed");
    } finally {
      this.inFlight.set(w.id, (this.inFlight.get(w.id) ?? 1) - 1);
    }
    this.d.observe?.(w.id, ok ? "delivered" : dead ? "dead" : "failed");
    this.kick();
  }

  /** Stops claiming; waits (up to graceMs) for attempts in flight to record their outcome. */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.scanTimer);
    await this.unlisten?.().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }
}
