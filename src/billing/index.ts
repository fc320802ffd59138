export { BillingQueries, type OrderPage } from './orders';
