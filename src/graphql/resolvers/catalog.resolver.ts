import { Query, Resolver } from 'type-graphql';
import { listProducts } from '../../catalog';
import { ProductType } from '../types/product.type';

@Resolver()
export class CatalogResolver {
  @Query(() => [ProductType], { description: 'The catalog. No token needed.' })
  products(): ProductType[] {
    return listProducts().map((p) => ProductType.from(p));
  }
}
