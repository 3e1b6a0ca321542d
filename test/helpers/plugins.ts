import { type DocumentNode, getOperationAST } from 'graphql';

/** The name of the operation a hook's args run (`undefined` for an anonymous one). */
export function operationNameOf(args: { document: DocumentNode; operationName?: string | null | undefined }): string | undefined {
  return getOperationAST(args.document, args.operationName ?? undefined)?.name?.value;
}
