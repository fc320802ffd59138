import type { MockPayment } from '../../../entities';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function money(minor: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(minor / 100);
}

/** The buttons of an open checkout, or what became of it. */
function actionsOf(row: MockPayment, base: string): string {
  if (row.status !== 'OPEN') {
    return `<p id="status">This checkout is ${escapeHtml(row.status.toLowerCase())}.</p>`;
  }
  const id = escapeHtml(row.checkoutId);
  return `<form method="post" action="${base}/${id}/pay" style="display:inline"><button id="pay" type="submit">Pay</button></form>
<form method="post" action="${base}/${id}/cancel" style="display:inline"><button id="cancel" type="submit">Cancel</button></form>`;
}

/** The hosted checkout page: the product and its price, with Pay and Cancel while open. */
export function checkoutPage(row: MockPayment, base: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mock checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.card{border:1px solid #ccc;border-radius:8px;padding:1.5rem}button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}
.note{color:#666;font-size:.85rem}</style></head>
<body><div class="card">
<p class="note">Mock payment provider: no money moves.</p>
<h1 id="product">${escapeHtml(row.productName)}</h1>
<p id="price">${escapeHtml(money(row.amountMinor, row.currency))}${row.recurring ? ' a month' : ''}</p>
${actionsOf(row, base)}
</div></body></html>`;
}
