/** How many WebSocket connections an instance takes, and from whom. */
export interface ConnectionLimits {
  /** Signed-in connections in all. */
  maxConnections: number;
  /** Connections that have not sent a good connection_init yet, in all. */
  maxPendingConnections: number;
  /** Connections from one client address, signed in or not. */
  maxConnectionsPerAddress: number;
  /** Connections from one client address not signed in yet. */
  maxPendingPerAddress: number;
}

export interface Refusal {
  status: number;
  message: string;
}

interface AddressCount {
  all: number;
  pending: number;
}

/**
 * The instance's WebSocket budget. A new socket is anonymous until its connection_init
 * carries a good token, so it starts on a small budget of its own (`pending`, with a short
 * deadline set elsewhere), capped per client address too; only a signed-in socket counts
 * against `maxConnections`. Sockets that never sign in can therefore fill only the pending
 * budget, never the signed-in users' places, and one address cannot fill even that.
 */
export class ConnectionBudget {
  private pendingCount = 0;
  private signedInCount = 0;
  private readonly byAddress = new Map<string, AddressCount>();

  constructor(private readonly limits: ConnectionLimits) {}

  get pending(): number {
    return this.pendingCount;
  }

  get signedIn(): number {
    return this.signedInCount;
  }

  /** Why a new socket from `address` is refused at the upgrade, or undefined to take it. */
  refusalAt(address: string): Refusal | undefined {
    const count = this.byAddress.get(address);
    if (count && count.all >= this.limits.maxConnectionsPerAddress) {
      return { status: 429, message: 'Too many connections from this address' };
    }
    if (count && count.pending >= this.limits.maxPendingPerAddress) {
      return { status: 429, message: 'Too many connections waiting to sign in from this address' };
    }
    if (this.pendingCount >= this.limits.maxPendingConnections) {
      return { status: 503, message: 'Too many connections waiting to sign in' };
    }
    return undefined;
  }

  /** A socket from `address` was opened: pending until it signs in. */
  opened(address: string): void {
    const count = this.byAddress.get(address) ?? { all: 0, pending: 0 };
    count.all += 1;
    count.pending += 1;
    this.byAddress.set(address, count);
    this.pendingCount += 1;
  }

  /** A pending socket signed in: false (and still pending) when no signed-in place is left. */
  signIn(address: string): boolean {
    if (this.signedInCount >= this.limits.maxConnections) return false;
    const count = this.byAddress.get(address);
    if (count) count.pending -= 1;
    this.pendingCount -= 1;
    this.signedInCount += 1;
    return true;
  }

  /** A socket closed, signed in or still pending. */
  closed(address: string, options: { signedIn: boolean }): void {
    const count = this.byAddress.get(address);
    if (count) {
      count.all -= 1;
      if (!options.signedIn) count.pending -= 1;
      if (count.all <= 0) this.byAddress.delete(address);
    }
    if (options.signedIn) this.signedInCount -= 1;
    else this.pendingCount -= 1;
  }
}
