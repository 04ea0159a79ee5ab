// drizzle-kit reads this to turn src/db/schema.ts into the numbered SQL migrations under drizzle/.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
});
