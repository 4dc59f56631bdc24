// Seed data for a fresh branch: run after the migrations (npm run migrate && npm run seed).
import { createPool } from './src/db.js';
import { addAuthor, addPost, publish } from './src/posts.js';

const db = createPool();
try {
  const ada = await addAuthor(db, 'Ada');
  const grace = await addAuthor(db, 'Grace');
  await publish(db, (await addPost(db, ada.id, 'Notes on the Analytical Engine')).id);
  await addPost(db, ada.id, 'Draft: loops');
  await publish(db, (await addPost(db, grace.id, 'Compilers for everyone')).id);
  console.log('seeded 2 authors, 3 posts');
} finally {
  await db.end();
}
