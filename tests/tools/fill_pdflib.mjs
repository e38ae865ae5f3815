// Fill a PDF form with pdf-lib as a web app would: getTextField(name).setText(value), then
// save() with its default appearance update (or {updateFieldAppearances: false} with "noappearances").
// usage: NODE_PATH=…/node_modules node fill_pdflib.mjs IN OUT VALUES.json [noappearances]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { PDFDocument } = require('pdf-lib');
const [src, dst, valuesFile, mode] = process.argv.slice(2);
const values = JSON.parse(fs.readFileSync(valuesFile, 'utf8'));
const doc = await PDFDocument.load(fs.readFileSync(src));
const form = doc.getForm();
for (const [name, value] of Object.entries(values)) form.getTextField(name).setText(value);
try {
  const options = mode === 'noappearances' ? { updateFieldAppearances: false } : {};
  fs.writeFileSync(dst, await doc.save(options));
} catch (e) {
  console.error('pdf-lib save failed: ' + e.message);
  process.exit(3);
}
