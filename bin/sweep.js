#!/usr/bin/env node
// Thin launcher: run the TypeScript CLI through tsx so `npx sweep` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
