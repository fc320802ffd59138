import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { UserProfile } from '../../entities';

@ObjectType('UserProfile', { simpleResolvers: true })
export class UserProfileType {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: 'The current balance.' })
  credits!: number;

  static from(profile: UserProfile): UserProfileType {
    return Object.assign(new UserProfileType(), { id: profile.id, credits: profile.credits });
  }
}
