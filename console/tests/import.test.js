import { describe, expect, it } from 'vitest';
import { guessTargets, mappingOf, parseHeader } from '../src/screens/Import.jsx';

describe('import mapping', () => {
  it('reads a header with quotes, a BOM and CRLF', () => {
    expect(parseHeader('\uFEFFE-mail,"Name, first","say ""hi""",Tags\r\nx@y.z,a,b,c')).toEqual(['E-mail', 'Name, first', 'say "hi"', 'Tags']);
  });

  it('guesses attributes by name and fields by valid key', () => {
    expect(guessTargets(['Email', 'tags', 'COUNTRY', 'plan', 'First name'])).toEqual({
      Email: 'email', tags: 'tags', COUNTRY: 'country', plan: 'string', 'First name': 'skip',
    });
  });

  it('builds the importer mapping, typed fields as objects', () => {
    expect(mappingOf({ Email: 'email', Tags: 'tags', plan: 'string', Seats: 'number', 'First name': 'string', junk: 'skip' })).toEqual({
      email: 'Email', tags: 'Tags', fields: { plan: 'plan', Seats: { column: 'Seats', type: 'number' }, First_name: 'First name' },
    });
  });
});
