/**
 * Render Studio, a made-up app that sells credits through Tally. Everything billing-related
 * goes to Tally directly (GraphQL over HTTP, live updates over graphql-ws); the one paid
 * action, "premium work", goes to the app's own backend, which charges through Tally with
 * its service token (../server/backend.ts).
 */
import {
  AccountDocument,
  CancelPlanDocument,
  CatalogDocument,
  HistoryDocument,
  LiveBalanceDocument,
  StartCheckoutDocument,
  WatchOrderDocument,
  type HistoryQuery,
} from './generated/graphql';
import { AppError, describeError } from './errors';
import { devSignIn, Tally } from './tally';

interface Config {
  tallyUrl: string;
  premiumCost: number;
}
type Row = HistoryQuery['me']['creditTransactions']['edges'][number]['node'];

const SESSION_KEY = 'render-studio-session';
const PAGE_SIZE = 5;
const $ = <T extends HTMLElement = HTMLElement>(selector: string) =>
  document.querySelector<T>(selector)!;

function escape(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function money(minor: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(minor / 100);
}

function notice(message: string | undefined, kind: 'error' | 'info' = 'error'): void {
  const box = $('#notice');
  box.hidden = !message;
  box.className = kind;
  box.textContent = message ?? '';
}

/** Runs a click handler with its button disabled; any failure becomes a readable notice. */
async function busy(button: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
  button.disabled = true;
  notice(undefined);
  try {
    await action();
  } catch (error) {
    notice(describeError(error));
    if (error instanceof AppError && error.code === 'UNAUTHENTICATED') signOut();
  } finally {
    button.disabled = false;
  }
}

/** A live feed stopped. An ended session is said so; the next click leads to sign-in. */
function liveFailed(error: AppError): void {
  notice(describeError(error));
  if (error.code === 'UNAUTHENTICATED') localStorage.removeItem(SESSION_KEY);
}

function signOut(): void {
  localStorage.removeItem(SESSION_KEY);
  location.assign('/');
}

// ---------------------------------------------------------------- sign in

function showSignIn(config: Config): void {
  $('#view').innerHTML = `
    <section>
      <h2>Sign in</h2>
      <p>Development sign-in: pick any user id. Tally issues a token for it
         (<code>POST /dev/token</code>, which does not exist in production).</p>
      <form class="sign-in">
        <input id="user-id" name="userId" placeholder="alice" required maxlength="64" />
        <button id="sign-in" class="primary" type="submit">Sign in</button>
      </form>
    </section>`;
  $('form.sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    const userId = $<HTMLInputElement>('#user-id').value.trim();
    void busy($<HTMLButtonElement>('#sign-in'), async () => {
      const token = await devSignIn(config.tallyUrl, userId);
      localStorage.setItem(SESSION_KEY, JSON.stringify({ userId, token }));
      location.reload();
    });
  });
}

// ---------------------------------------------------------------- account header

async function showAccount(tally: Tally): Promise<void> {
  const { me } = await tally.request(AccountDocument);
  $('#who').hidden = false;
  $('#user').textContent = me.id;
  $('#balance').textContent = String(me.credits);
  $('#plan').textContent =
    me.plan === 'free' ? 'Free plan' : (me.subscription?.product.name ?? me.plan);
  const sub = me.subscription;
  // One plan at a time (Tally refuses a second with ALREADY_SUBSCRIBED).
  const hasPlan = !!sub && sub.status !== 'CANCELLED';
  for (const button of document.querySelectorAll<HTMLButtonElement>(
    'button.buy[data-kind="SUBSCRIPTION"]',
  )) {
    button.disabled = hasPlan;
    button.textContent = hasPlan ? 'Your plan' : 'Subscribe';
  }
  const panel = document.querySelector('#subscription');
  if (!panel) return;
  if (!sub || sub.status === 'CANCELLED') {
    panel.innerHTML = `<p id="subscription-state">No subscription. The monthly plan adds credits every month.</p>`;
    return;
  }
  const end = new Date(sub.currentPeriodEnd).toLocaleDateString('en-GB', { dateStyle: 'long' });
  panel.innerHTML = sub.cancelAtPeriodEnd
    ? `<p id="subscription-state">${escape(sub.product.name)}: cancelled, ends on ${escape(end)}. Your credits stay.</p>`
    : `<p id="subscription-state">${escape(sub.product.name)}: ${sub.status === 'PAST_DUE' ? 'payment overdue' : 'active'}, renews on ${escape(end)}.</p>
       <button id="cancel-plan" type="button">Cancel at period end</button>`;
  document.querySelector<HTMLButtonElement>('#cancel-plan')?.addEventListener('click', (event) =>
    busy(event.currentTarget as HTMLButtonElement, async () => {
      if (!confirm('Cancel the plan? It stays active until the end of the period.')) return;
      await tally.request(CancelPlanDocument);
      await showAccount(tally);
      notice('Your plan is cancelled and ends at the end of the period.', 'info');
    }),
  );
}

// ---------------------------------------------------------------- home

function historyRow(
  row: Pick<Row, 'id' | 'type' | 'amount' | 'description'> & Partial<Row>,
): string {
  const when = row.createdAt ? new Date(row.createdAt).toLocaleString('en-GB') : 'just now';
  const sign = row.amount > 0 ? 'plus' : 'minus';
  return `<tr data-id="${escape(row.id)}"><td>${escape(when)}</td><td>${escape(row.type.toLowerCase().replace('_', ' '))}</td>
    <td>${escape(row.description)}</td><td class="amount ${sign}">${row.amount > 0 ? '+' : ''}${row.amount}</td></tr>`;
}

async function showHome(tally: Tally, config: Config, token: string): Promise<void> {
  $('#view').innerHTML = `
    <section><h2>Buy credits</h2><div class="products" id="catalog">Loading…</div></section>
    <section>
      <h2>Premium work</h2>
      <p>Each run costs ${config.premiumCost} credits, taken by this app's backend through Tally.
         When the work fails, the backend gives them back.</p>
      <button id="work" class="primary" type="button">Run premium work</button>
      <button id="work-fail" type="button">Run work that fails</button>
      <p id="work-result" class="muted"></p>
    </section>
    <section><h2>Subscription</h2><div id="subscription">Loading…</div></section>
    <section>
      <h2>Credit history</h2>
      <table><thead><tr><th>When</th><th>What</th><th>Description</th><th>Credits</th></tr></thead>
        <tbody id="history"></tbody></table>
      <p><button id="more" type="button" hidden>Load more</button></p>
    </section>`;

  const { products } = await tally.request(CatalogDocument);
  $('#catalog').innerHTML = products
    .map(
      (p) => `<div class="product">
        <div>${escape(p.name)}</div>
        <div class="price">${escape(money(p.price, p.currency))}${p.interval ? ` <small>/ ${p.interval.toLowerCase()}</small>` : ''}</div>
        <div class="muted">${p.credits} credits${p.interval ? ' every month' : ''}</div>
        <button class="primary buy" data-product="${escape(p.id)}" data-kind="${escape(p.kind)}" type="button">${p.kind === 'SUBSCRIPTION' ? 'Subscribe' : 'Buy'}</button>
      </div>`,
    )
    .join('');
  $('#catalog').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button.buy');
    if (!button) return;
    void busy(button, async () => {
      // One key per click: a double click or a retried request starts one checkout.
      const { createCheckout } = await tally.request(StartCheckoutDocument, {
        productId: button.dataset['product']!,
        idempotencyKey: crypto.randomUUID(),
      });
      location.assign(createCheckout.checkoutUrl); // the provider's hosted page
    });
  });

  let after: string | null = null;
  const more = $<HTMLButtonElement>('#more');
  const loadHistory = async () => {
    const { me } = await tally.request(HistoryDocument, { first: PAGE_SIZE, after });
    const connection = me.creditTransactions;
    $('#history').insertAdjacentHTML(
      'beforeend',
      connection.edges.map((edge) => historyRow(edge.node)).join(''),
    );
    after = connection.pageInfo.endCursor;
    more.hidden = !connection.pageInfo.hasNextPage;
  };
  more.addEventListener('click', () => busy(more, loadHistory));

  const work = (fail: boolean) => (event: Event) =>
    busy(event.currentTarget as HTMLButtonElement, async () => {
      $('#work-result').textContent = 'Working…';
      try {
        const result = await premiumWork(token, fail);
        $('#work-result').textContent = `Done: ${result.result}`;
      } catch (error) {
        $('#work-result').textContent = '';
        throw error;
      }
    });
  $('#work').addEventListener('click', work(false));
  $('#work-fail').addEventListener('click', work(true));

  // Live: the balance and the newest history rows, as Tally commits them.
  tally.subscribe(
    LiveBalanceDocument,
    {},
    ({ balanceChanged }) => {
      $('#balance').textContent = String(balanceChanged.balance);
      if (
        !document.querySelector(
          `#history tr[data-id="${CSS.escape(balanceChanged.transaction.id)}"]`,
        )
      ) {
        $('#history').insertAdjacentHTML('afterbegin', historyRow(balanceChanged.transaction));
      }
      // A purchase or grant may have changed the plan too.
      if (['PURCHASE', 'SUBSCRIPTION_GRANT'].includes(balanceChanged.transaction.type)) {
        void showAccount(tally);
      }
    },
    liveFailed,
  );
  // Whatever happened while the socket was down is in the database: read it again.
  tally.onReconnect(() => void showAccount(tally));

  await Promise.all([showAccount(tally), loadHistory()]);
}

/** The app's own backend: it charges through Tally with its service token. */
async function premiumWork(token: string, fail: boolean): Promise<{ result: string }> {
  // One key per click: when the network drops the answer, the retry (same key) is answered
  // with the first outcome instead of charging and working again.
  const key = crypto.randomUUID();
  const send = () =>
    fetch('/api/premium-work', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'idempotency-key': key,
      },
      body: JSON.stringify({ fail }),
    });
  const response = await send().catch(() => send());
  const body = (await response.json().catch(() => ({}))) as {
    result?: string;
    error?: { code: string; message: string };
  };
  if (!response.ok || body.error) {
    throw new AppError(body.error?.code ?? 'INTERNAL_SERVER_ERROR', body.error?.message ?? '');
  }
  return { result: body.result ?? '' };
}

// ---------------------------------------------------------------- back from checkout

function showCheckoutResult(tally: Tally, success: boolean): void {
  const orderId = new URLSearchParams(location.search).get('order_id');
  $('#view').innerHTML = `<section>
      <h2>${success ? 'Thank you!' : 'Payment cancelled'}</h2>
      <p id="order-status">${success ? 'Waiting for the payment to be confirmed…' : 'Nothing was charged.'}</p>
      <p><a id="back" href="/">Back to the app</a></p>
    </section>`;
  void showAccount(tally).catch((error: unknown) => notice(describeError(error)));
  tally.subscribe(
    LiveBalanceDocument,
    {},
    ({ balanceChanged }) => ($('#balance').textContent = String(balanceChanged.balance)),
    () => undefined,
  );
  if (!success || !orderId) return;
  // The current state comes first, so this works whether the webhook landed already or not.
  tally.subscribe(
    WatchOrderDocument,
    { orderId },
    ({ orderStatusChanged: order }) => {
      const text: Record<string, string> = {
        PENDING: 'Waiting for the payment to be confirmed…',
        COMPLETED: `Payment received: ${order.product.name}, ${order.credits} credits added.`,
        CANCELLED: 'The payment was cancelled. Nothing was charged.',
        FAILED: 'The payment failed. Nothing was charged.',
        REFUNDED: 'This payment was refunded.',
      };
      $('#order-status').textContent = text[order.status] ?? order.status;
      $('#order-status').dataset['status'] = order.status;
    },
    liveFailed,
  );
}

// ---------------------------------------------------------------- start

async function start(): Promise<void> {
  const config = (await (await fetch('/config.json')).json()) as Config;
  const session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null') as {
    token: string;
  } | null;
  if (!session) return showSignIn(config);
  $('#sign-out').addEventListener('click', signOut);
  const tally = new Tally(config.tallyUrl, session.token);
  if (location.pathname === '/checkout/success') return showCheckoutResult(tally, true);
  if (location.pathname === '/checkout/cancel') return showCheckoutResult(tally, false);
  await showHome(tally, config, session.token);
}

start().catch((error: unknown) => {
  notice(describeError(error));
  if (error instanceof AppError && error.code === 'UNAUTHENTICATED') {
    localStorage.removeItem(SESSION_KEY);
  }
});
