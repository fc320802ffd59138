export {
  ProfileService,
  MAX_PAGE_SIZE,
  assertPageSize,
  assertUserId,
  type TransactionPage,
} from './profiles';
