/**
 * Server-sent events (the `generate_stream` and OpenAI `stream: true`
 * answers). Headers go out with the first event, so an error found before
 * any output is still an ordinary JSON error with its status, as Triton's
 * generate extension describes.
 */
import type { ServerResponse } from 'node:http';

export interface SseWriter {
  /** Sends one `data:` event holding `value` as JSON. */
  send(value: unknown): void;
  /** Sends a `data:` event with this text as is (`[DONE]`). */
  sendRaw(text: string): void;
  readonly started: boolean;
  end(): void;
}

export function createSse(res: ServerResponse): SseWriter {
  let started = false;
  const open = () => {
    if (started) return;
    started = true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise hold events back.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
  };
  const write = (data: string) => {
    open();
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${data}\n\n`);
  };
  return {
    send: (value) => write(JSON.stringify(value)),
    sendRaw: write,
    get started() {
      return started;
    },
    end() {
      open();
      if (!res.writableEnded) res.end();
    },
  };
}
