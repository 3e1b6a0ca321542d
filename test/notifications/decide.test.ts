import { describe, expect, it } from 'vitest';
import type { Sql } from '../../src/db/index.ts';
import type { NotificationRecord, Preferences } from '../../src/domain/model.ts';
import { channelsFor, decide, isEnabled, isMuted, STORED_WHEN, suppression } from '../../src/notifications/decide.ts';
import { type BatchMember, batchStore, keyOf, type Template } from '../../src/store/emit-batch.ts';

const template = (extra: Partial<Template> = {}): Template => ({
  title: 't',
  body: 'b',
  type: 'UPDATE',
  category: null,
  data: null,
  url: null,
  actor: null,
  key: null,
  updateKey: null,
  progress: null,
  taskState: null,
  markUnread: false,
  critical: false,
  expiresAt: null,
  ...extra,
});
const member = (recipients: string[], extra: Partial<Template> = {}): BatchMember => ({ template: template(extra), recipients });
const prefs = (...list: (Partial<Preferences> & { userId: string })[]) =>
  new Map(list.map((p) => [p.userId, { enabled: true, email: true, sms: false, push: true, mutedCategories: [], ...p }]));
const NONE = new Map<string, NotificationRecord>();
const record = (id: string, recipientId: string): NotificationRecord => ({
  id,
  recipientId,
  seq: 1,
  changeSeq: 1,
  progress: null,
  taskState: null,
  updatedAt: null,
  expiresAt: null,
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
  createdAt: new Date(0),
});
const summary = (plan: { result: { deliveries: { recipientId: string; status: string; reason: string | null }[] } }) =>
  plan.result.deliveries.map((d) => [d.recipientId, d.status, d.reason]);

describe('the preference rule', () => {
  it('suppresses when in-app delivery is off (first) or the category is muted, unless the emit is critical', () => {
    const facts = (enabled: boolean, muted: boolean, critical = false) => ({ enabled, muted, critical });
    expect(suppression(facts(true, false))).toBeNull();
    expect(suppression(facts(true, true))).toBe('CATEGORY_MUTED');
    expect(suppression(facts(false, false))).toBe('DISABLED');
    expect(suppression(facts(false, true))).toBe('DISABLED');
    for (const enabled of [true, false]) for (const muted of [true, false]) expect(suppression(facts(enabled, muted, true))).toBeNull();
  });

  it('reads its facts: no preferences is enabled and mutes nothing; no category is never muted', () => {
    const pref = prefs({ userId: 'u', enabled: false, mutedCategories: ['billing'] }).get('u');
    expect(isEnabled(undefined)).toBe(true);
    expect(isEnabled(pref)).toBe(false);
    expect(isMuted(undefined, 'billing')).toBe(false);
    expect(isMuted(pref, 'billing')).toBe(true);
    expect(isMuted(pref, 'other')).toBe(false);
    expect(isMuted(pref, null)).toBe(false);
  });

  it('stores when enabled and not muted, and whenever the emit is critical', () => {
    expect(STORED_WHEN).toEqual([
      { enabled: true, muted: true, critical: true },
      { enabled: true, muted: false, critical: true },
      { enabled: true, muted: false, critical: false },
      { enabled: false, muted: true, critical: true },
      { enabled: false, muted: false, critical: true },
    ]);
  });

  it('is what the one-statement store applies in PostgreSQL: it is handed the stored facts, not a rule of its own', async () => {
    const texts: string[] = [];
    const sql: Sql = {
      query: async <T>(text: string) => {
        texts.push(text);
        return [] as T[];
      },
      transaction: (fn) => fn(sql),
    };
    const batch = [member(['u'])];
    await batchStore(STORED_WHEN).storeUnkeyed(sql, batch);
    await batchStore([]).storeUnkeyed(sql, batch);
    await batchStore([
      { enabled: true, muted: false, critical: false },
      { enabled: true, muted: true, critical: true },
    ]).storeUnkeyed(sql, batch);
    const where = texts.map((t) => /LEFT JOIN prefs p ON p\.user_id = i\.u\s+WHERE (.*)\n\)/.exec(t)?.[1]);
    const enabled = 'COALESCE(p.enabled, true)';
    const muted = 'COALESCE(($6::text[])[i.t] = ANY(p.muted_categories), false)';
    const critical = '($15::boolean[])[i.t]';
    expect(where).toEqual([
      STORED_WHEN.map(
        (f) => `(${f.enabled ? '' : 'NOT '}${enabled} AND ${f.muted ? '' : 'NOT '}${muted} AND ${f.critical ? '' : 'NOT '}${critical})`,
      ).join(' OR '),
      'false',
      `(${enabled} AND NOT ${muted} AND NOT ${critical}) OR (${enabled} AND ${muted} AND ${critical})`,
    ]);
  });

  it('gives the channels a recipient accepts: the defaults without preferences, none in a muted category', () => {
    expect(channelsFor(undefined, false)).toEqual({ email: true, sms: false, push: true });
    expect(channelsFor(prefs({ userId: 'u', sms: true, push: false }).get('u'), false)).toEqual({ email: true, sms: true, push: false });
    expect(channelsFor(prefs({ userId: 'u', sms: true }).get('u'), true)).toEqual({ email: false, sms: false, push: false });
  });
});

describe('decide: per recipient of a batch', () => {
  it('delivers, or suppresses as the preferences say, in the emit order, with counts and channels', () => {
    const p = prefs(
      { userId: 'off', enabled: false, mutedCategories: ['billing'] },
      { userId: 'muter', mutedCategories: ['billing'], sms: true },
    );
    const [plan, other] = decide([member(['new', 'off', 'muter'], { category: 'billing' }), member(['muter'])], p, NONE);
    expect(plan && summary(plan)).toEqual([
      ['new', 'DELIVERED', null],
      ['off', 'SUPPRESSED', 'DISABLED'],
      ['muter', 'SUPPRESSED', 'CATEGORY_MUTED'],
    ]);
    expect(plan?.result).toMatchObject({ deliveredCount: 1, suppressedCount: 2, duplicateCount: 0 });
    expect(plan?.result.deliveries.map((d) => d.channels)).toEqual([
      { email: true, sms: false, push: true },
      { email: false, sms: false, push: false },
      { email: false, sms: false, push: false },
    ]);
    // The same recipient, another emit without the muted category: delivered, with its own channels.
    expect(other && summary(other)).toEqual([['muter', 'DELIVERED', null]]);
    expect(other?.result.deliveries[0]?.channels).toEqual({ email: true, sms: true, push: true });
  });

  it("delivers a critical emit to everyone, reporting what each recipient's preferences would have excluded", () => {
    const p = prefs({ userId: 'off', enabled: false }, { userId: 'muter', mutedCategories: ['security'], sms: true });
    const [plan] = decide([member(['new', 'off', 'muter'], { category: 'security', critical: true })], p, NONE);
    expect(plan && summary(plan)).toEqual([
      ['new', 'DELIVERED', null],
      ['off', 'DELIVERED', null],
      ['muter', 'DELIVERED', null],
    ]);
    expect(plan?.result.deliveries.map((d) => d.bypassed)).toEqual([null, 'DISABLED', 'CATEGORY_MUTED']);
    // A muted category no longer turns the other channels off: the recipient's own choices apply.
    expect(plan?.result.deliveries[2]?.channels).toEqual({ email: true, sms: true, push: true });
  });

  it('answers a key an earlier attempt stored as DUPLICATE, naming what it stored', () => {
    const stored = record('n1', 'u');
    const [plan] = decide([member(['u', 'v'], { key: 'k' })], new Map(), new Map([[keyOf('u', 'k'), stored]]));
    expect(plan && summary(plan)).toEqual([
      ['u', 'DUPLICATE', null],
      ['v', 'DELIVERED', null],
    ]);
    expect(plan?.result.deliveries[0]?.notification).toBe(stored);
    expect(plan?.result).toMatchObject({ deliveredCount: 1, suppressedCount: 0, duplicateCount: 1 });
  });

  it('delivers a key once per recipient within a batch: the first emit claims it, later ones are duplicates', () => {
    const plans = decide([member(['u'], { key: 'k' }), member(['u', 'v'], { key: 'k' }), member(['u'], { key: 'other' })], new Map(), NONE);
    expect(plans.map(summary)).toEqual([
      [['u', 'DELIVERED', null]],
      [
        ['u', 'DUPLICATE', null],
        ['v', 'DELIVERED', null],
      ],
      [['u', 'DELIVERED', null]],
    ]);
  });

  it('applies preferences before idempotency: a suppressed recipient is no duplicate and claims no key', () => {
    const p = prefs({ userId: 'u', mutedCategories: ['billing'] });
    const stored = record('n1', 'u');
    const plans = decide(
      [member(['u'], { key: 'k', category: 'billing' }), member(['u'], { key: 'k' }), member(['u'], { key: 'j', category: 'billing' })],
      p,
      new Map([[keyOf('u', 'j'), stored]]),
    );
    expect(plans.map(summary)).toEqual([
      [['u', 'SUPPRESSED', 'CATEGORY_MUTED']],
      [['u', 'DELIVERED', null]],
      [['u', 'SUPPRESSED', 'CATEGORY_MUTED']],
    ]);
  });

  it('keeps each plan with its member, in batch order', () => {
    const batch = [member(['a']), member(['b'])];
    expect(decide(batch, new Map(), NONE).map((p) => p.member)).toEqual(batch);
  });
});
