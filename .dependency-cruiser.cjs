/**
 * The module boundaries of DESIGN.md, checked in CI (`npm run lint`):
 * transport (graphql/, http/) calls billing/ and ledger/, never repositories or providers;
 * billing/ and ledger/ know nothing of transport; adapters (providers/, realtime/) know
 * nothing of billing/ or ledger/; ledger/ never reaches into billing/; the mock provider's
 * fake backend stays on the vendor's side of its adapter; jobs/ takes billing as functions,
 * never imports it; no cycles.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Import cycles make module boundaries meaningless.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'transport-not-to-data-or-providers',
      severity: 'error',
      comment: 'Resolvers and routes parse, authorise and call billing/ledger; nothing lower.',
      from: { path: '^src/(graphql|http)/' },
      to: { path: ['^src/db/', '^src/providers/', '^node_modules/typeorm', '^node_modules/pg/'] },
    },
    {
      name: 'transport-no-entity-repositories',
      severity: 'error',
      comment: 'Transport may use entity types, never query them.',
      from: { path: '^src/(graphql|http)/' },
      to: { path: '^src/entities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'domain-not-to-transport',
      severity: 'error',
      comment: 'billing/ and ledger/ know nothing of HTTP or GraphQL.',
      from: { path: '^src/(billing|ledger)/' },
      to: {
        path: [
          '^src/(graphql|http)/',
          '^node_modules/(graphql|type-graphql|express|@apollo|graphql-ws|ws)/',
        ],
      },
    },
    {
      name: 'adapters-not-to-domain',
      severity: 'error',
      comment: 'Adapters stay vendor-side of the port: no billing/ or ledger/ rules in them.',
      from: { path: '^src/(providers|realtime)/' },
      to: { path: '^src/(billing|ledger|graphql|http)/' },
    },
    {
      name: 'mock-fake-is-the-vendor',
      severity: 'error',
      comment:
        "The mock's fake backend plays the hosted provider: it knows its wire format, not Tally's port nor the adapter.",
      from: { path: '^src/providers/mock/fake/' },
      to: {
        path: '^src/providers/',
        pathNot: [
          '^src/providers/mock/fake/',
          '^src/providers/mock/wire\\.ts$',
          '^src/providers/signature\\.ts$',
        ],
      },
    },
    {
      name: 'mock-fake-through-its-index',
      severity: 'error',
      comment: 'The adapter talks to the fake through the surface fake/index.ts exports.',
      from: { path: '^src/', pathNot: '^src/providers/mock/fake/' },
      to: { path: '^src/providers/mock/fake/(?!index\\.ts$)' },
    },
    {
      name: 'ledger-not-to-billing',
      severity: 'error',
      comment: 'The ledger is below billing: billing calls the ledger, never the reverse.',
      from: { path: '^src/ledger/' },
      to: { path: '^src/billing/' },
    },
    {
      name: 'jobs-not-to-billing',
      severity: 'error',
      comment:
        'Job bodies take billing as a function (reconcileJob), so billing can change its API freely.',
      from: { path: '^src/jobs/' },
      to: { path: '^src/billing/' },
    },
    {
      name: 'modules-through-their-index',
      severity: 'error',
      comment: 'A folder is a module: import its index.ts, not its files.',
      from: { path: '^src/([^/]+)/', pathNot: ['^src/cli/'] },
      to: {
        path: '^src/(config|db|entities|catalog|ledger|billing|providers|graphql|http|realtime|observability|jobs|compose|errors|auth|ratelimit)/(?!index\\.ts$)[^/]+',
        pathNot: ['^src/$1/'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '^test/generated/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
