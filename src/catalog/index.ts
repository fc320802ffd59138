export {
  PRODUCTS,
  listProducts,
  findProduct,
  assertValidCatalog,
  type Product,
  type BillingInterval,
} from './products';
