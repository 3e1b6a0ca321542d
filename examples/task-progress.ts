/**
 * A task runner reporting progress into its user's inbox (seed 002): one notification, updated in
 * place with the emit's `key`, from 0% to 100% in steps, then done. Open tabs show each step; a tab
 * that comes back mid-task receives the latest state once.
 *
 *   TOKEN=$(npm run -s token -- --sub exporter --scope notifications:emit)
 *   npx tsx examples/task-progress.ts http://localhost:4000/graphql "$TOKEN" alice export:42
 */

const EMIT = `mutation($input: EmitNotificationInput!) {
  emitNotification(input: $input) { deliveries { status notification { id progress taskState } } }
}`;

export interface TaskOptions {
  /** Herald's GraphQL endpoint. */
  url: string;
  /** A producer's bearer token (scope notifications:emit). */
  token: string;
  recipientId: string;
  /** The task's key: every report of the task updates the same notification. */
  key: string;
  /** Reports from 0% to 100% (default 20). */
  steps?: number;
  /** Pause between reports (default 250 ms: the work being done). */
  delayMs?: number;
}

/** Runs the task; resolves with the status of each report (DELIVERED first, then UPDATED). */
export async function runTask(options: TaskOptions): Promise<string[]> {
  const steps = options.steps ?? 20;
  const statuses: string[] = [];
  for (let step = 0; step <= steps; step++) {
    const progress = step / steps;
    const done = step === steps;
    statuses.push(
      await report(options, {
        title: done ? 'Export ready' : `Exporting… ${Math.round(progress * 100)}%`,
        progress,
        taskState: done ? 'SUCCEEDED' : step === 0 ? 'PENDING' : 'RUNNING',
        url: '/exports/42',
        // The finished export deserves the user's attention again, even if they read the progress.
        markUnread: done,
      }),
    );
    if (!done) await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 250));
  }
  return statuses;
}

async function report(options: TaskOptions, content: Record<string, unknown>): Promise<string> {
  const response = await fetch(options.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: JSON.stringify({ query: EMIT, variables: { input: { recipientIds: [options.recipientId], key: options.key, ...content } } }),
  });
  const body = (await response.json()) as {
    data?: { emitNotification: { deliveries: { status: string }[] } };
    errors?: { message: string }[];
  };
  const status = body.data?.emitNotification.deliveries[0]?.status;
  if (status === undefined) throw new Error(`emit failed: ${JSON.stringify(body.errors)}`);
  return status;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, token, recipientId, key] = process.argv.slice(2);
  if (!url || !token || !recipientId || !key) {
    console.error('usage: task-progress.ts <graphql url> <producer token> <recipient id> <key>');
    process.exit(2);
  }
  const statuses = await runTask({ url, token, recipientId, key });
  console.log(statuses.join(' '));
}
