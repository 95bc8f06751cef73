/**
 * The local stack is reachable from this machine only: every socket listening in this process (the HTTP adapter,
 * fauxqs, the fake media host) and in the DynamoDB Local JVM is bound to 127.0.0.1, read from /proc/net/tcp{,6}; and
 * a connection to the DynamoDB port through any of the machine's other addresses is refused, as it would be from
 * another host (DynamoDB Local checks no credentials: reachable, one PutItem would mint an admin key).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbLocalPortArg } from '../../../infra/local/emulators';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';

interface Listener {
  readonly address: string;
  readonly port: number;
}

/** `0100007F` → 127.0.0.1; IPv6 as four little-endian words (`::ffff:127.0.0.1` for a v4-mapped loopback bind). */
function decodeAddress(hex: string): string {
  if (hex.length === 8) return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (const i of [3, 2, 1, 0]) bytes.push(parseInt(word.slice(i * 2, i * 2 + 2), 16));
  }
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The TCP sockets process `pid` listens on (its socket inodes matched against the kernel's LISTEN table). */
function listenersOf(pid: number): Listener[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: Listener[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [addr, port] = f[1]!.split(':');
      if (f[3] === '0A' && inodes.has(f[9]!)) out.push({ address: decodeAddress(addr!), port: parseInt(port!, 16) });
    }
  }
  return out;
}

const isLoopback = (address: string) => address === '127.0.0.1' || address === '::ffff:127.0.0.1' || address === '::1';

function refusedAt(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, scheduleEveryMs: 0 });
});
afterAll(async () => {
  await stack?.stop();
});

describe('exposure of the local stack', () => {
  it('every listening socket of the stack, the DynamoDB Local JVM included, is bound to 127.0.0.1', () => {
    const ddbPort = new URL(stack.endpoints.dynamodb).port;
    const jvm = execFileSync('pgrep', ['-f', `DynamoDBLocal.jar.* ${dynamoDbLocalPortArg(ddbPort)}$`], { encoding: 'utf8' }).trim().split('\n');
    expect(jvm).toHaveLength(1);
    const ours = listenersOf(process.pid);
    const theJvms = listenersOf(Number(jvm[0]));
    const ports = (ls: Listener[]) => new Set(ls.map((l) => l.port));
    // The sockets found are the stack's: the adapter, fauxqs and the fake media host here, DynamoDB in the JVM.
    for (const url of [stack.baseUrl, stack.endpoints.sqs, stack.mediaBaseUrl]) expect(ports(ours).has(Number(new URL(url).port)), url).toBe(true);
    expect([...ports(theJvms)]).toEqual([Number(ddbPort)]);
    const exposed = [...ours, ...theJvms].filter((l) => !isLoopback(l.address));
    expect(exposed).toEqual([]);
  });

  it("DynamoDB Local, fauxqs and the HTTP adapter refuse connections through the machine's other addresses", async () => {
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && !a.internal && !a.address.startsWith('fe80'))
      .map((a) => a!.address);
    const ports = [stack.endpoints.dynamodb, stack.endpoints.sqs, stack.baseUrl, stack.mediaBaseUrl].map((u) => Number(new URL(u).port));
    const answers = await Promise.all(others.flatMap((host) => ports.map(async (port) => `${host} ${port} ${await refusedAt(host, port)}`)));
    expect(answers).toEqual(others.flatMap((host) => ports.map((port) => `${host} ${port} ECONNREFUSED`)));
    // And through loopback they answer.
    expect(await refusedAt('127.0.0.1', ports[0]!)).toBe('connected');
  });
});
