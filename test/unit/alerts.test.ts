import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONDITIONS } from '../../src/errors';
import { Metrics } from '../../src/observability';

const OPS = path.join(__dirname, '..', '..', 'ops');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Metric names a PromQL expression reads (histogram series map to their metric). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(tally_[a-z0-9_]+)/g)].map((m) =>
    m[1]!.replace(/_(bucket|sum|count)$/, ''),
  );
}

async function exported(): Promise<Set<string>> {
  const metrics = new Metrics();
  metrics.gauge('tally_db_pool_connections', 'x', () => 0);
  metrics.gauge('tally_db_pool_idle', 'x', () => 0);
  metrics.gauge('tally_db_pool_waiting', 'x', () => 0);
  metrics.gauge('tally_websocket_connections', 'x', () => 0);
  metrics.gauge('tally_realtime_subscribers', 'x', () => 0);
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('alert rules (ops/prometheus/alerts.yml)', () => {
  const doc = parse(readFileSync(path.join(OPS, 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: Array<{ name: string; rules: Rule[] }>;
  };
  const rules = doc.groups.flatMap((g) => g.rules);
  const byName = new Map(rules.map((r) => [r.alert, r]));

  it('every rule is complete and names only metrics Tally exports', async () => {
    const names = await exported();
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^Tally[A-Za-z]+$/);
      expect(rule.expr.trim().length).toBeGreaterThan(0);
      expect(rule.labels?.['severity']).toMatch(/^(page|ticket)$/);
      expect(rule.annotations?.['summary']).toBeTruthy();
      for (const metric of metricsIn(rule.expr)) expect(names).toContain(metric);
      // Balanced parentheses: a typo here would only show when Prometheus loads the file.
      let depth = 0;
      for (const c of rule.expr) {
        depth += c === '(' ? 1 : c === ')' ? -1 : 0;
        expect(depth).toBeGreaterThanOrEqual(0);
      }
      expect(depth).toBe(0);
    }
  });

  it.each([
    ['TallyPaymentSuccessRateLow', /tally_payments_total\{outcome="completed"\}/, /< 0\.9\s*$/],
    ['TallyWebhookProcessingSlow', /tally_webhook_processing_seconds_bucket/, /> 10\s*$/],
    ['TallyCreditDrift', /tally_credit_drift_users.*tally_users/s, /> 0\.05\s*$/],
    ['TallyRefundRateHigh', /increase\(tally_refunds_total\[24h\]\)/, /> 0\.1\s*$/],
  ])('%s carries the seed threshold', (name, reads, threshold) => {
    const rule = byName.get(name);
    expect(rule).toBeDefined();
    expect(rule!.expr).toMatch(reads);
    expect(rule!.expr.trim()).toMatch(threshold);
  });

  it('every critical condition code pages, and only those', () => {
    const critical = Object.entries(CONDITIONS)
      .filter(([, condition]) => condition.critical)
      .map(([code]) => code)
      .sort();
    const expr = byName.get('TallyWebhookCritical')?.expr ?? '';
    const paged = /code=~"([A-Z_|]+)"/.exec(expr)?.[1]?.split('|').sort();
    expect(paged).toEqual(critical);
    expect(byName.get('TallyWebhookCritical')?.labels?.['severity']).toBe('page');
  });

  it('both kinds the drift check finds raise an alert: drift and a wrong reserved sum', () => {
    expect(byName.get('TallyCreditDriftAny')?.expr.trim()).toBe(
      'max(tally_credit_drift_users) > 0',
    );
    expect(byName.get('TallyReservedCreditDrift')?.expr.trim()).toBe(
      'max(tally_credit_reserved_drift_users) > 0',
    );
  });
});

describe('Grafana dashboard (ops/grafana/tally-dashboard.json)', () => {
  const dashboard = JSON.parse(
    readFileSync(path.join(OPS, 'grafana', 'tally-dashboard.json'), 'utf8'),
  ) as { uid: string; panels: Array<{ title: string; targets: Array<{ expr: string }> }> };

  it('charts only exported metrics, and every metric the alerts use', async () => {
    const names = await exported();
    const charted = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) {
        for (const metric of metricsIn(target.expr)) {
          expect(names).toContain(metric);
          charted.add(metric);
        }
      }
    }
    const doc = parse(readFileSync(path.join(OPS, 'prometheus', 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Rule[] }>;
    };
    for (const rule of doc.groups.flatMap((g) => g.rules)) {
      for (const metric of metricsIn(rule.expr)) expect(charted).toContain(metric);
    }
  });
});
