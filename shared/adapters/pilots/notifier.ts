/**
 * Pilot notifications: one HTTP POST of a JSON body (shared/domain/pilots/pilots.ts `PilotNotification`: ids and figures,
 * never call data) to each of the pilot's notify URLs, with a timeout. A failure is logged with the URL's host only
 * (paths and queries may carry the receiver's tokens) and never thrown: a webhook that is down must not stop a
 * pilot from closing. Redirects are not followed.
 *
 * Server-side request forgery: in AWS only https URLs to public host names are called; loopback, private and
 * link-local addresses (including the Lambda runtime API on 127.0.0.1 and the instance metadata range) are refused
 * before any connection. `allowLocal` (the local stack: PILOT_NOTIFY_ALLOW_LOCAL=true) lifts both rules so that a
 * receiver on 127.0.0.1 can be used. A name that resolves to a private address is not caught (no DNS pinning).
 */
import { isIP } from 'node:net';
import type { PilotNotification } from '../../domain/pilots/notifications';
import type { PilotNotifier } from '../../app/pilots/ports';
import type { Log } from '../../app/kernel/ports';

export interface HttpPilotNotifierOptions {
  readonly log: Log;
  readonly timeoutMs?: number;
  readonly allowLocal?: boolean;
  readonly fetch?: typeof fetch;
}

/** Hosts the notifier refuses unless local targets are allowed. */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) return true;
  const kind = isIP(host);
  if (kind === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    return a === 127 || a === 10 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  if (kind === 6) return host === '::1' || host === '::' || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith('::ffff:');
  return false;
}

/** Why a URL is not called ('' when it may be). */
export function refusal(url: string, allowLocal: boolean): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'invalid URL';
  }
  if (allowLocal) return u.protocol === 'https:' || u.protocol === 'http:' ? '' : 'not http(s)';
  if (u.protocol !== 'https:') return 'not https';
  if (isLocalHost(u.hostname)) return 'private or loopback host';
  return '';
}

export class HttpPilotNotifier implements PilotNotifier {
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpPilotNotifierOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async send(urls: readonly string[], body: PilotNotification): Promise<void> {
    const payload = JSON.stringify(body);
    await Promise.all(
      urls.map(async (url) => {
        const host = hostOf(url);
        const refused = refusal(url, this.options.allowLocal ?? false);
        if (refused !== '') {
          this.options.log.warn('pilot notification refused', { host, reason: refused, notification: body.event, pilotId: body.pilotId });
          return;
        }
        try {
          const res = await this.fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'CallLedger-Pilots/1' },
            body: payload,
            redirect: 'manual',
            signal: AbortSignal.timeout(this.timeoutMs),
          });
          await res.body?.cancel();
          if (res.status < 200 || res.status >= 300) {
            this.options.log.warn('pilot notification not accepted', { host, status: res.status, notification: body.event, pilotId: body.pilotId });
          }
        } catch (err) {
          this.options.log.warn('pilot notification failed', { host, error: (err as Error).name, notification: body.event, pilotId: body.pilotId });
        }
      }),
    );
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid)';
  }
}
