// Runs against the branch CI made for this pull request (DATABASE_URL): migrated and seeded, and
// free to be written to — nobody else uses it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPool } from '../src/db.js';
import { addAuthor, addPost, publish, publishedTitles } from '../src/posts.js';

describe('posts', () => {
  let db;
  before(() => {
    db = createPool();
  });
  after(() => db.end());

  it('sees the seed data', async () => {
    assert.deepEqual(await publishedTitles(db), [
      { author: 'Ada', title: 'Notes on the Analytical Engine' },
      { author: 'Grace', title: 'Compilers for everyone' },
    ]);
  });

  it('publishes a new post', async () => {
    const author = await addAuthor(db, `Test author ${process.pid}`);
    const post = await addPost(db, author.id, 'Hello');
    assert.equal(post.published, false);
    await publish(db, post.id);
    assert.ok((await publishedTitles(db)).some((r) => r.title === 'Hello'));
  });

  it('keeps author names unique (the migration says so)', async () => {
    await assert.rejects(addAuthor(db, 'Ada'), { code: '23505' });
  });
});
