import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed search attributes, so the Web UI and `temporal workflow list --query` filter sweeps and runs. */
export const SweepName = defineSearchAttributeKey('SweepName', SearchAttributeType.KEYWORD);
export const SweepId = defineSearchAttributeKey('SweepId', SearchAttributeType.KEYWORD);
// "RunId" is a reserved system attribute on Temporal servers, so runs carry their id as SweepRunId.
export const RunId = defineSearchAttributeKey('SweepRunId', SearchAttributeType.KEYWORD);
export const RunState = defineSearchAttributeKey('RunState', SearchAttributeType.KEYWORD);
export const Arch = defineSearchAttributeKey('Arch', SearchAttributeType.KEYWORD);
export const Dataset = defineSearchAttributeKey('Dataset', SearchAttributeType.KEYWORD);
export const SamplesPerClass = defineSearchAttributeKey('SamplesPerClass', SearchAttributeType.INT);

export const SEARCH_ATTRIBUTES = [SweepName, SweepId, RunId, RunState, Arch, Dataset, SamplesPerClass];

/** `Name=Type` flags for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_FLAGS = SEARCH_ATTRIBUTES.map(
  (k) => `${k.name}=${k.type === SearchAttributeType.INT ? 'Int' : 'Keyword'}`,
);
