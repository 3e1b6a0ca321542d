import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/** Longest error message answered, and longest `extensions.originalError.message`. */
const MESSAGE_LENGTH = 1_000;
const ORIGINAL_MESSAGE_LENGTH = 300;

const cut = (text: string, length: number) => (text.length > length ? `${text.slice(0, length)}…` : text);

/**
 * Errors that quote the request are cut, so that a refusal never echoes megabytes back: graphql's
 * coercion errors quote the value ("Variable "$input" got invalid value { … }": a 2 MB variable
 * came back as a 6 MB error), and Yoga answers a body that is not JSON with the parser's message in
 * `extensions.originalError`, which for some syntax errors V8 writes with the whole body in it (a
 * 4 MB invalid body came back as a 4 MB error, 9.5 s in development).
 */
export function boundedError(error: Error): Error {
  if (!(error instanceof GraphQLError)) return error;
  const found = error.extensions?.['originalError'];
  const original = typeof found === 'object' && found !== null ? found : undefined;
  const originalText = original && 'message' in original ? original.message : undefined;
  const longOriginal = typeof originalText === 'string' && originalText.length > ORIGINAL_MESSAGE_LENGTH;
  if (error.message.length <= MESSAGE_LENGTH && !longOriginal) return error;
  return new GraphQLError(cut(error.message, MESSAGE_LENGTH), {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions:
      longOriginal && original
        ? { ...error.extensions, originalError: { ...original, message: cut(originalText, ORIGINAL_MESSAGE_LENGTH) } }
        : error.extensions,
  });
}

/** Most errors answered for one request (graphql-js's validation stops at 100 too). */
const MAX_ERRORS = 100;

/**
 * Bounds the errors of validation and execution results: each message as above, and at most
 * MAX_ERRORS of them, the rest counted in a last one. graphql-jit coerces a list variable item by
 * item: 1,000 ids of the wrong type were 1,000 errors (1.4 MB, 1.7 s); literals that do not fit
 * their type are quoted by validation ("Expected value of type …, found "…"").
 */
export function useBoundedErrors(): Plugin {
  return {
    onValidate() {
      return ({ valid, result, setResult }) => {
        const errors = valid ? null : boundedList(result);
        if (errors) setResult(errors);
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result) || !result.errors?.length) return;
          const errors = boundedList(result.errors);
          if (errors) setResult({ ...result, errors: errors.filter((e) => e instanceof GraphQLError) } satisfies ExecutionResult);
        },
      };
    },
  };
}

/** The errors bounded, or null when they already are. */
function boundedList(errors: readonly Error[]): Error[] | null {
  const kept = errors.slice(0, MAX_ERRORS).map(boundedError);
  if (errors.length <= MAX_ERRORS && kept.every((e, i) => e === errors[i])) return null;
  if (errors.length > MAX_ERRORS) {
    const first = errors[0];
    const code = first instanceof GraphQLError ? first.extensions?.['code'] : undefined;
    kept.push(
      new GraphQLError(`… and ${errors.length - MAX_ERRORS} more errors`, { extensions: typeof code === 'string' ? { code } : {} }),
    );
  }
  return kept;
}
