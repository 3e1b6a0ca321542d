/**
 * Content negotiation for the fast path, the same as Yoga's result processors: a single result is
 * answered as JSON in the media type Yoga picks, an event stream when the client asks for one.
 */
export const JSON_TYPES = ['application/graphql-response+json', 'application/json'] as const;
export type JsonType = (typeof JSON_TYPES)[number];

/**
 * The JSON media type Yoga answers a single result with for this Accept header (its
 * result-processor negotiation: the last match, over the accepted types in reverse order, wins),
 * or null when Yoga would pick another processor or answer 406.
 */
export function jsonResponseType(accept: string | undefined): JsonType | null {
  let chosen: JsonType | null = null;
  for (const asked of acceptedTypes(accept).reverse()) {
    for (const candidate of JSON_TYPES) if (matches(asked, candidate)) chosen = candidate;
  }
  return chosen;
}

/** Every media type Yoga's result processors answer with: an event stream, multipart, JSON. */
const RESULT_TYPES = ['text/event-stream', 'multipart/mixed', ...JSON_TYPES] as const;

/**
 * Whether some result processor can answer this Accept header (Yoga's negotiation, wildcards
 * included). When none can, Yoga finds out only after executing the operation and answers 406:
 * the front door answers 406 first, so that a mutation is never run for an answer nobody takes.
 */
export function acceptsAnyResult(accept: string | undefined): boolean {
  return acceptedTypes(accept).some((asked) => RESULT_TYPES.some((candidate) => matches(asked, candidate)));
}

function matches(asked: string, candidate: string): boolean {
  const [askedType, askedSub] = asked.split('/');
  const [type, sub] = candidate.split('/');
  return (askedType === '*' || askedType === type) && (askedSub === '*' || askedSub === sub);
}

/** Whether the client accepts an event stream (GraphQL over SSE, "distinct connections" mode). */
export function acceptsEventStream(accept: string | undefined): boolean {
  return acceptedTypes(accept).some((t) => t === 'text/event-stream');
}

function acceptedTypes(accept: string | undefined): string[] {
  const types: string[] = [];
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [mediaType, ...params] = entry.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (mediaType !== undefined && charset === 'charset=utf-8') types.push(mediaType);
  }
  return types;
}
