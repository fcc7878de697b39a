import { DefaultLogger, Runtime } from '@temporalio/worker';

// Keep test output readable: worker state changes and expected run failures are not news.
Runtime.install({ logger: new DefaultLogger('ERROR') });
