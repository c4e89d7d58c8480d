/** The FILES contract of the serving baselines: URL path → file on disk, content type and ETag. */
export interface ServedFile {
  file: string;
  headers: Record<string, string>;
}

/** The hub's media headers, so every server sends the same bytes of header too. */
export function mediaHeaders(type: string, etag: string): Record<string, string> {
  return { 'content-type': type, etag, 'cache-control': 'public, max-age=31536000, immutable', 'accept-ranges': 'bytes', 'x-content-type-options': 'nosniff' };
}

export function parseFiles(json: string | undefined): Map<string, ServedFile> {
  const raw = JSON.parse(json ?? '{}') as Record<string, { file: string; type: string; etag: string }>;
  return new Map(Object.entries(raw).map(([path, f]) => [path, { file: f.file, headers: mediaHeaders(f.type, f.etag) }]));
}
