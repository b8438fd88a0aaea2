// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import mercado from './lint/boundaries.js';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.tap/**', '.mercado/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['scripts/**/*.ts', '**/test/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Component boundaries (README.md, "Boundaries"): services are the workspaces under
    // services/ (the kit aside); scripts/ holds the developer commands, which may start any
    // component and use test helpers such as freePort.
    files: ['**/*.ts', '**/*.js'],
    plugins: { mercado },
    rules: {
      'mercado/boundaries': [
        'error',
        { kit: '@mercado/common', services: 'services', tools: ['@mercado/scripts'] },
      ],
    },
  },
);
