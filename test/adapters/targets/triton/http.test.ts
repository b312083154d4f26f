/**
 * The HTTP client against a real HTTP server on port 0 that follows the
 * KServe v2 REST protocol and the binary tensor data extension, written here
 * from the documents, independently of the client's framing code.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../../../../adapters/targets/triton/codec.js';
import { createHttpClient } from '../../../../adapters/targets/triton/http.js';
import type { KServeClient } from '../../../../adapters/targets/triton/kserve-client.js';

interface Seen {
  prefixed?: boolean;
  contentType?: string;
  headerLength?: string;
}

function startServer(binary: boolean): Promise<{ server: Server; url: string; seen: Seen }> {
  const seen: Seen = {};
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let url = req.url ?? '';
    // A reverse proxy in front of Triton may mount it under a path.
    if (url.startsWith('/proxy/')) {
      seen.prefixed = true;
      url = url.slice('/proxy'.length);
    }
    if (url === '/v2')
      return json(res, 200, { name: 'fake', version: '1', extensions: binary ? ['binary_tensor_data'] : [] });
    if (url === '/v2/health/live' || url === '/v2/health/ready') return res.writeHead(200).end();
    if (url === '/v2/models/echo/ready') return res.writeHead(200).end();
    if (url.endsWith('/ready'))
      return json(res, 400, { error: "Request for unknown model: 'x' is not found" });
    if (url === '/v2/models/echo/config') {
      return json(res, 200, {
        name: 'echo',
        backend: 'python',
        input: [{ name: 'a', data_type: 'TYPE_INT32', dims: ['-1'] }],
        output: [{ name: 'a_out', data_type: 'TYPE_INT32', dims: ['-1'] }],
        parameters: { vocab_size: { string_value: '8' } },
      });
    }
    if (url === '/v2/models/slow/infer') return; // never answers
    if (url === '/v2/models/drop/infer') return req.socket.destroy();
    if (url === '/v2/models/lost/infer') {
      return json(res, 400, { error: "[CANOPY_SESSION_UNKNOWN] session 'a1' is not open" });
    }
    if (url === '/v2/models/down/infer') {
      return json(res, 503, { error: "Request for unknown model: 'down' has no available versions" });
    }
    if (url === '/v2/models/broken/infer') return json(res, 500, { error: 'model raised ValueError' });
    if (url === '/v2/models/full/infer')
      return json(res, 503, { error: '[CANOPY_CAPACITY] 64 sessions are open' });
    if (url !== '/v2/models/echo/infer') return json(res, 404, { error: 'no route' });

    // Echo every input back as `<name>_out`, reading and writing the body as the extension describes.
    seen.contentType = req.headers['content-type'];
    seen.headerLength = req.headers['inference-header-content-length'] as string | undefined;
    const jsonEnd = seen.headerLength === undefined ? body.length : Number(seen.headerLength);
    const header = JSON.parse(body.subarray(0, jsonEnd).toString('utf8'));
    let offset = jsonEnd;
    const outputs: object[] = [];
    const blobs: Buffer[] = [];
    for (const input of header.inputs) {
      const size = input.parameters?.binary_data_size;
      const out: Record<string, unknown> = {
        name: `${input.name}_out`,
        datatype: input.datatype,
        shape: input.shape,
      };
      if (header.parameters?.binary_data_output) {
        const blob =
          size === undefined
            ? Buffer.from(Int32Array.from(input.data).buffer)
            : body.subarray(offset, offset + size);
        out.parameters = { binary_data_size: blob.length };
        blobs.push(blob);
      } else {
        out.data = input.data;
      }
      if (size !== undefined) offset += size;
      outputs.push(out);
    }
    const head = Buffer.from(JSON.stringify({ model_name: 'echo', id: header.id, outputs }));
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (blobs.length > 0) headers['inference-header-content-length'] = head.length;
    res.writeHead(200, headers).end(Buffer.concat([head, ...blobs]));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => json(res, 500, { error: String(error) }));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }),
    ),
  );
}

async function closedPortUrl(): Promise<string> {
  const { server, url } = await startServer(true);
  await new Promise((r) => server.close(r));
  return url;
}

describe('KServe HTTP client', () => {
  let binary: Awaited<ReturnType<typeof startServer>>;
  let plain: Awaited<ReturnType<typeof startServer>>;
  let client: KServeClient;

  beforeAll(async () => {
    binary = await startServer(true);
    plain = await startServer(false);
    client = createHttpClient({ url: binary.url, timeoutMs: 5_000 });
  });

  afterAll(async () => {
    await client.close();
    binary.server.closeAllConnections();
    plain.server.closeAllConnections();
    await Promise.all([binary, plain].map((s) => new Promise((r) => s.server.close(r))));
  });

  it('answers health, metadata and configuration', async () => {
    expect(await client.serverLive()).toBe(true);
    expect(await client.serverReady()).toBe(true);
    expect(await client.modelReady('echo')).toBe(true);
    expect(await client.modelReady('missing')).toBe(false);
    expect(await client.serverMetadata()).toEqual({
      name: 'fake',
      version: '1',
      extensions: ['binary_tensor_data'],
    });
    const config = await client.modelConfig('echo');
    expect(config.inputs).toEqual([{ name: 'a', datatype: 'INT32', dims: [-1], optional: false }]);
    expect(config.parameters).toEqual({ vocab_size: '8' });
  });

  it('sends and receives tensors as binary data when the server has the extension', async () => {
    const response = await client.infer({
      model: 'echo',
      id: 'q1',
      inputs: [
        tensor('a', 'INT32', Int32Array.of(1, -2, 3), [1, 3]),
        tensor('s', 'BYTES', [new TextEncoder().encode('ab'), new Uint8Array(0)]),
        tensor('u', 'UINT64', BigUint64Array.of(2n ** 60n)),
      ],
    });
    expect(binary.seen.contentType).toBe('application/octet-stream');
    expect(binary.seen.headerLength).toMatch(/^\d+$/);
    expect(response.id).toBe('q1');
    expect(response.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['a_out', [1, 3]],
      ['s_out', [2]],
      ['u_out', [1]],
    ]);
    expect(response.outputs[0]!.data).toEqual(Int32Array.of(1, -2, 3));
    expect((response.outputs[1]!.data as Uint8Array[]).map((b) => b.length)).toEqual([2, 0]);
    expect(response.outputs[2]!.data).toEqual(BigUint64Array.of(2n ** 60n));
  });

  it('falls back to JSON when the server lacks the binary extension', async () => {
    const jsonClient = createHttpClient({ url: plain.url });
    try {
      const response = await jsonClient.infer({
        model: 'echo',
        inputs: [tensor('a', 'INT32', Int32Array.of(4, 5))],
      });
      expect(plain.seen.contentType).toBe('application/json');
      expect(plain.seen.headerLength).toBeUndefined();
      expect(response.outputs[0]!.data).toEqual(Int32Array.of(4, 5));
    } finally {
      await jsonClient.close();
    }
  });

  it('keeps a path prefix in front of every route', async () => {
    const prefixed = createHttpClient({ url: `${binary.url}/proxy/` });
    try {
      expect(binary.seen.prefixed).toBeUndefined();
      expect((await prefixed.serverMetadata()).name).toBe('fake');
      expect(binary.seen.prefixed).toBe(true);
    } finally {
      await prefixed.close();
    }
  });

  it('maps the canopy_lm bracketed code for an unknown session to SESSION_LOST', async () => {
    const error = await client.infer({ model: 'lost', inputs: [] }).catch((e) => e);
    expect(error).toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
      details: { outcome: 'rejected' },
    });
    expect(error.message).toContain("session 'a1' is not open");
  });

  it('maps an unavailable model to NOT_READY and other failures to UPSTREAM_ERROR with the message', async () => {
    await expect(client.infer({ model: 'down', inputs: [] })).rejects.toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_NOT_READY',
    });
    // A bracketed model code wins over the 503 it travels with.
    await expect(client.infer({ model: 'full', inputs: [] })).rejects.toMatchObject({
      code: 'CANOPY_ERR_CAPACITY',
    });
    const error = await client.infer({ model: 'broken', inputs: [] }).catch((e) => e);
    expect(error.code).toBe('CANOPY_ERR_UPSTREAM_ERROR');
    expect(error.message).toContain('model raised ValueError');
  });

  it('times out a request that gets no answer', async () => {
    await expect(client.infer({ model: 'slow', inputs: [] }, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_TIMEOUT',
      details: { outcome: 'unknown' },
    });
  });

  it('stops at the caller’s abort signal', async () => {
    const controller = new AbortController();
    const pending = client.infer({ model: 'slow', inputs: [] }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: 'CANOPY_ERR_CANCELLED' });
  });

  it('reports a connection dropped mid-request as unreachable with an unknown outcome', async () => {
    await expect(client.infer({ model: 'drop', inputs: [] })).rejects.toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE',
      details: { outcome: 'unknown' },
    });
  });

  it('reports a closed port as unreachable, never sent', async () => {
    const dead = createHttpClient({ url: await closedPortUrl(), binary: true });
    try {
      await expect(dead.serverLive()).rejects.toMatchObject({ code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE' });
      await expect(dead.infer({ model: 'echo', inputs: [] })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE',
        details: { outcome: 'not-sent' },
      });
    } finally {
      await dead.close();
    }
  });
});
