import { z } from 'zod';

export const Username = z
  .string()
  .min(3, 'must be 3-50 characters')
  .max(50, 'must be 3-50 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only');
// The upper bound keeps scrypt work per request bounded.
export const Password = z.string().min(8, 'must be at least 8 characters').max(256);

export const RegisterBody = z.strictObject({
  username: Username,
  password: Password,
  display_name: z.string().trim().min(1).max(100).optional(),
});

/** OAuth2 password grant (RFC 6749 4.3) as form fields or JSON; client fields are accepted and ignored. */
export const TokenBody = z.strictObject({
  grant_type: z.literal('password').optional(),
  username: z.string().min(1).max(50),
  password: z.string().min(1).max(256),
  scope: z.string().max(200).optional(),
  client_id: z.string().max(200).optional(),
  client_secret: z.string().max(200).optional(),
});

export const RefreshBody = z.strictObject({ refresh_token: z.string().min(1).max(200) });

export const MePatchBody = z
  .strictObject({
    display_name: z.string().trim().min(1).max(100).nullable().optional(),
    new_password: Password.optional(),
    current_password: z.string().min(1).max(256).optional(),
  })
  .refine((b) => !b.new_password || b.current_password, { message: 'current_password is required to change the password', path: ['current_password'] });

export const MeDeleteBody = z.strictObject({ current_password: z.string().min(1).max(256) });

export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.int(),
  refresh_token: z.string(),
});

export const GuestResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.int(),
  guest_id: z.uuid(),
});

export const UserResponse = z.object({
  id: z.int(),
  username: z.string(),
  display_name: z.string().nullable(),
  role: z.enum(['user', 'admin']),
  created_at: z.iso.datetime(),
});
export type UserDto = z.infer<typeof UserResponse>;
