/** The app's data access: authors and their posts. */

export async function addAuthor(db, name) {
  const { rows } = await db.query('INSERT INTO authors (name) VALUES ($1) RETURNING id, name', [name]);
  return rows[0];
}

export async function addPost(db, authorId, title) {
  const { rows } = await db.query('INSERT INTO posts (author_id, title) VALUES ($1, $2) RETURNING id, title, published', [authorId, title]);
  return rows[0];
}

export async function publish(db, postId) {
  const { rowCount } = await db.query('UPDATE posts SET published = true WHERE id = $1', [postId]);
  if (rowCount !== 1) throw new Error(`no post ${postId}`);
}

export async function publishedTitles(db) {
  const { rows } = await db.query(
    `SELECT a.name AS author, p.title FROM posts p JOIN authors a ON a.id = p.author_id WHERE p.published ORDER BY a.name, p.title`,
  );
  return rows;
}
