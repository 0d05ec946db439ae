// The console's small walks of query text, in Node (no browser): the field conditions the zero-result hint
// names and replaces, and the word the search bar's autocomplete completes.

import {describe, it} from 'node:test';
import assert from 'node:assert/strict';

import {fieldConditions, replaceCondition, withoutField} from '../crates/acta-server/console/js/fields.js';
import {wordAt} from '../crates/acta-server/console/js/autocomplete.js';

const names = (q) => fieldConditions(q).map((c) => c.name);
const spans = (q) => fieldConditions(q).map((c) => q.slice(c.start, c.end));

describe('the field conditions of a query', () => {
  it('finds seed 002\'s agent condition and not the free-text words around it', () => {
    const q = 'initiator.host.agent:"NotSet" (action user-apikey) -login';
    assert.deepEqual(spans(q), ['initiator.host.agent:"NotSet"']);
  });

  it('takes a value to its end: groups, lists, operators, quotes with spaces and escaped quotes', () => {
    const q = 'reason.reasonCode:(>=400 <500) action:[create,delete] -outcome:==success target.name:"a \\" b" x:*';
    assert.deepEqual(spans(q), ['reason.reasonCode:(>=400 <500)', 'action:[create,delete]', '-outcome:==success', 'target.name:"a \\" b"', 'x:*']);
  });

  it('ignores a colon inside a phrase', () => {
    assert.deepEqual(names('"not:a field" action:login'), ['action']);
  });

  it('replaces one condition and removes a field for the rest of the query', () => {
    const q = 'initiator.host.agent:"NotSet" (action user-apikey) -login';
    const [agent] = fieldConditions(q);
    assert.equal(replaceCondition(q, agent, 'initiator.host.agent:=="Acta CLI"'), 'initiator.host.agent:=="Acta CLI" (action user-apikey) -login');
    assert.equal(withoutField(q, 'initiator.host.agent'), '(action user-apikey) -login');
    assert.equal(withoutField('(a:1) b', 'a'), 'b');
  });
});

describe('the word autocomplete completes', () => {
  it('is the text from the last space, bracket or negation to the caret', () => {
    assert.deepEqual(wordAt('(action user-apikey) -initiator.ho', 34), {start: 22, word: 'initiator.ho'});
  });

  it('keeps a quoted value with spaces in the word', () => {
    const text = 'x initiator.host.agent:"IBM Cl';
    assert.deepEqual(wordAt(text, text.length), {start: 2, word: 'initiator.host.agent:"IBM Cl'});
  });
});
