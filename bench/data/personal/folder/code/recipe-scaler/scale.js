// recipe-scaler: scale a recipe's ingredient list to a different number of servings.
// Used by the little kitchen-tablet page (index.html) — paste a recipe, pick servings.
//
//   scaleRecipe(parseIngredients(text), 4, 6)
//
// Rounding rules (so the output is something you can actually measure):
//   grams / ml      -> nearest 5 (nearest 1 under 20)
//   tsp / tbsp      -> nearest quarter
//   whole items     -> eggs, tins and cloves round UP; everything else to nearest half
'use strict';

const MAX_SCALE = 4;            // refuse to scale more than 4x — timings stop making sense
const GRAMS_PER_CUP = { flour: 125, sugar: 200, rice: 185, lentils: 190 };
const ROUND_UP_ITEMS = ['egg', 'eggs', 'tin', 'tins', 'clove', 'cloves'];

const UNIT_ALIASES = {
  g: 'g', gram: 'g', grams: 'g',
  kg: 'kg',
  ml: 'ml', millilitre: 'ml', millilitres: 'ml',
  l: 'l', litre: 'l', litres: 'l',
  tsp: 'tsp', teaspoon: 'tsp', teaspoons: 'tsp',
  tbsp: 'tbsp', tablespoon: 'tbsp', tablespoons: 'tbsp',
  cup: 'cup', cups: 'cup', mug: 'cup', mugs: 'cup',
};

const LINE_RE = /^\s*[-*]?\s*(\d+(?:[.,]\d+)?|\d+\/\d+|½|¼|¾)?\s*([a-zA-Z]+)?\s+(.*)$/;

function parseQuantity(q) {
  if (!q) return null;
  if (q === '½') return 0.5;
  if (q === '¼') return 0.25;
  if (q === '¾') return 0.75;
  if (q.includes('/')) {
    const [a, b] = q.split('/').map(Number);
    return a / b;
  }
  return Number(q.replace(',', '.'));
}

function parseIngredients(text) {
  return text.split('\n').filter((l) => l.trim()).map((line) => {
    const m = LINE_RE.exec(line);
    if (!m) return { qty: null, unit: null, name: line.trim() };
    const unit = m[2] && UNIT_ALIASES[m[2].toLowerCase()];
    return {
      qty: parseQuantity(m[1]),
      unit: unit || null,
      name: unit ? m[3] : [m[2], m[3]].filter(Boolean).join(' '),
    };
  });
}

function roundFor(qty, unit, name) {
  if (unit === 'g' || unit === 'ml') return qty < 20 ? Math.round(qty) : Math.round(qty / 5) * 5;
  if (unit === 'tsp' || unit === 'tbsp') return Math.max(0.25, Math.round(qty * 4) / 4);
  if (unit === 'kg' || unit === 'l') return Math.round(qty * 100) / 100;
  const firstWord = name.split(/\s+/)[0].toLowerCase();
  if (ROUND_UP_ITEMS.includes(firstWord)) return Math.ceil(qty);
  return Math.round(qty * 2) / 2;
}

function scaleRecipe(ingredients, fromServings, toServings) {
  const factor = toServings / fromServings;
  if (factor > MAX_SCALE) {
    throw new Error(`Scaling by ${factor.toFixed(1)}x is more than ${MAX_SCALE}x — make two batches.`);
  }
  return ingredients.map((ing) => {
    if (ing.qty === null) return { ...ing };
    return { ...ing, qty: roundFor(ing.qty * factor, ing.unit, ing.name) };
  });
}

function cupsToGrams(cups, what) {
  const per = GRAMS_PER_CUP[what];
  if (!per) throw new Error(`No cup conversion for ${what}`);
  return Math.round(cups * per);
}

module.exports = { parseIngredients, scaleRecipe, cupsToGrams, MAX_SCALE };
