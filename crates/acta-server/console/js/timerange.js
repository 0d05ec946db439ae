// The time picker's ranges. Presets are sent as the API's relative forms (`24h`, `live`), so the server's
// clock decides what "the last 24 hours" is (a browser whose clock is off would otherwise hide new events);
// custom ranges, and zooms into a histogram bar, are absolute instants.

export const PRESETS = [
  {id: 'live', label: 'Live', title: 'The last 60 minutes, with new events as they arrive', ms: 3600e3},
  {id: '1h', label: '1h', title: 'The last hour', ms: 3600e3},
  {id: '24h', label: '24h', title: 'The last 24 hours', ms: 24 * 3600e3},
  {id: '7d', label: '7d', title: 'The last 7 days', ms: 7 * 24 * 3600e3},
];

/**
 * The API parameters and the span in milliseconds of a range: `{range: '24h'}` or
 * `{range: 'custom', from: ms, to: ms}`.
 */
export function resolveRange(state, now = Date.now()) {
  const preset = PRESETS.find((p) => p.id === state.range);
  if (preset) {
    return {params: {from: preset.id}, fromMs: now - preset.ms, toMs: now, label: preset.title.toLowerCase()};
  }
  const fromMs = Number(state.from);
  const toMs = Number(state.to);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) {
    return resolveRange({range: '24h'}, now);
  }
  return {
    params: {from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString()},
    fromMs,
    toMs,
    label: 'the chosen range',
  };
}
