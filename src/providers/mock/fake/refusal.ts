/** A refusal of a request to the fake provider, as a real provider would refuse it. */
export class MockProviderRefusal extends Error {
  override readonly name = 'MockProviderRefusal';
  constructor(
    message: string,
    readonly status: 404 | 409 | 400,
  ) {
    super(message);
  }
}
