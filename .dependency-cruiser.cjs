/**
 * `npm run lint` runs this over src/: no import cycle between folders or between modules, and the
 * layers import only downwards:
 *   config, errors, logger <- domain, db <- store <- delivery <- notifications <- schema <- pipeline <- http <- app
 *   (observability sits beside http: only app wires it in; ratelimit sits beside domain and db:
 *   notifications, pipeline and http count against it)
 * (notifications publishes through delivery's bus; delivery never imports notifications).
 */
const layer = (name, from, forbidden) => ({
  name,
  severity: 'error',
  from: { path: `^src/${from}/` },
  to: { path: `^src/(${forbidden.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Two folders importing each other means a shared piece wants its own, lower place.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    { name: 'no-module-cycles', severity: 'error', from: {}, to: { circular: true } },
    layer('domain-is-the-bottom', 'domain', ['db', 'store', 'delivery', 'notifications', 'schema', 'pipeline', 'http', 'auth']),
    layer('ratelimit-is-low', 'ratelimit', ['domain', 'db', 'store', 'delivery', 'notifications', 'schema', 'pipeline', 'http', 'auth']),
    layer('db-below-store', 'db', ['store', 'domain', 'delivery', 'notifications', 'schema', 'pipeline', 'http', 'auth']),
    layer('store-below-domain-logic', 'store', ['delivery', 'notifications', 'schema', 'pipeline', 'http', 'auth']),
    layer('delivery-below-notifications', 'delivery', ['notifications', 'schema', 'pipeline', 'http']),
    layer('notifications-below-schema', 'notifications', ['schema', 'pipeline', 'http']),
    layer('schema-below-pipeline', 'schema', ['pipeline', 'http']),
    layer('pipeline-below-http', 'pipeline', ['http', 'observability']),
    layer('only-app-wires-observability', '(domain|db|store|delivery|notifications|schema|http|auth|ratelimit)', ['observability']),
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/generated/' },
    doNotFollow: { path: 'node_modules' },
  },
};
