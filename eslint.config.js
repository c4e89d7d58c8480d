import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'weights/', 'coverage/', '.tmp/', 'web/dist/', '.gpu/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through src/platform/config.ts' },
      ],
    },
  },
  {
    files: ['src/platform/config.ts', 'test/**', 'scripts/**', 'load-tests/**', '**/*.test.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
