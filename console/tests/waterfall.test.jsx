import { cleanup, render, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Waterfall } from '../src/screens/Broadcasts.jsx';
import { SessionContext } from '../src/session.js';
import { barGeometry, legacySteps, waterfallSteps } from '../src/waterfall.js';

const PREVIEW = {
  included: 12,
  excluded: 3,
  suppressedBy: [
    { reason: 'UNSUBSCRIBED', count: 2 },
    { reason: 'BOUNCED', count: 1 },
    { reason: 'COMPLAINED', count: 1 },
    { reason: 'SUPPRESSION_LIST', count: 2 },
  ],
  count: 3,
};

describe('waterfallSteps', () => {
  it('takes each step off what is left, and ends at the audience', () => {
    const { rows, total, consistent } = waterfallSteps(PREVIEW);
    expect(rows.map((r) => [r.key, r.sign, r.n, r.from, r.to])).toEqual([
      ['included', '', 12, 0, 12],
      ['excluded', '−', 3, 9, 12],
      ['UNSUBSCRIBED', '−', 2, 7, 9],
      ['BOUNCED', '−', 1, 6, 7],
      ['COMPLAINED', '−', 1, 5, 6],
      ['SUPPRESSION_LIST', '−', 2, 3, 5],
      ['audience', '=', 3, 0, 3],
    ]);
    expect(rows.map((r) => r.label)).toContain('minus on the suppression list');
    expect([total, consistent]).toEqual([12, true]);
  });

  it('says when the steps do not add up to the count', () => {
    expect(waterfallSteps({ ...PREVIEW, count: 4 }).consistent).toBe(false);
  });

  it('names a reason it does not know from its value', () => {
    const { rows } = waterfallSteps({ ...PREVIEW, suppressedBy: [{ reason: 'FREQUENCY_CAP', count: 0 }], count: 9 });
    expect(rows[2].label).toBe('minus frequency cap');
  });

  it('reads an older server\'s two previews as one status step', () => {
    const { rows, consistent } = legacySteps({ included: { count: 7, suppressed: 3 }, final: { count: 5, suppressed: 2 } });
    expect(rows.map((r) => [r.key, r.n])).toEqual([['included', 10], ['excluded', 3], ['NOT_SUBSCRIBED', 2], ['audience', 5]]);
    expect(consistent).toBe(true);
  });

  it('places each bar where its step starts, scaled to the included', () => {
    const { rows } = waterfallSteps(PREVIEW);
    expect(barGeometry(rows[0], 12, 240)).toEqual({ left: 0, width: 240 });
    expect(barGeometry(rows[1], 12, 240)).toEqual({ left: 180, width: 60 });
    expect(barGeometry(rows[6], 12, 240)).toEqual({ left: 0, width: 60 });
    expect(barGeometry(rows[0], 0, 240)).toEqual({ left: 0, width: 0 });
  });
});

describe('Waterfall', () => {
  afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

  it('asks previewAudience once for the split and shows a row per step', async () => {
    const fetch = vi.fn(async () => ({ json: async () => ({ data: { previewAudience: PREVIEW } }) }));
    vi.stubGlobal('fetch', fetch);
    const session = { caps: { audience: new Set(['count', 'included', 'excluded', 'suppressedBy']) } };
    render(<SessionContext.Provider value={session}><Waterfall include={['sg_1', 'sg_2']} exclude={['sg_3']} /></SessionContext.Provider>);
    const audience = await screen.findByRole('row', { name: /= audience/ });
    expect(audience.textContent).toContain('3');
    expect(screen.getByRole('row', { name: /minus bounced/ }).textContent).toContain('− 1');
    expect(screen.getByRole('row', { name: /minus on the suppression list/ }).textContent).toContain('− 2');
    expect(screen.getAllByRole('row')).toHaveLength(7);
    expect(fetch).toHaveBeenCalledTimes(1);
    const body = JSON.parse(fetch.mock.calls[0][1].body);
    expect(body.query).toContain('suppressedBy { reason count }');
    expect(body.variables).toEqual({ include: ['sg_1', 'sg_2'], exclude: ['sg_3'] });
  });
});
