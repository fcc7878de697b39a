import { DefaultLogger, Runtime } from '@temporalio/worker';

// Keep test output readable: the SDK's worker state changes are not news.
Runtime.install({ logger: new DefaultLogger('WARN') });
