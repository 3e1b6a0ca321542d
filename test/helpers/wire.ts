import type { WireNotification } from '../../src/domain/messages.ts';

/** A notification as it travels on the bus, with `content` overriding the defaults. */
export const wireNotification = (userId: string, seq: number, content: Partial<WireNotification> = {}): WireNotification => ({
  id: `${userId}-${seq}`,
  recipientId: userId,
  seq,
  title: 't',
  body: 'b',
  type: 'UPDATE',
  category: null,
  data: null,
  url: null,
  actor: null,
  readAt: null,
  seenAt: null,
  archivedAt: null,
  createdAt: new Date(1_700_000_000_000 + seq).toISOString(),
  ...content,
});
