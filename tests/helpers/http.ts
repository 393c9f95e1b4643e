// Raw HTTP requests for tests: node:http, so Host and Origin can be set to anything.
import { request as httpRequest } from "node:http";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json(): any;
}

export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "POST", headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body,
          text: body.toString(),
          json: () => JSON.parse(body.toString()),
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** POST /ipc/<cmd> with a JSON body. */
export function invokeJson(base: string, cmd: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(`${base}/ipc/${encodeURIComponent(cmd)}`, {
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}
