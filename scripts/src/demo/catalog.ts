/**
 * The demo catalog `npm start` loads: a small but realistic shop. Everything here is deterministic
 * (no randomness), so a second run produces the same SKUs and the loader can skip what exists.
 */

export interface DemoCategory {
  slug: string;
  name: string;
  parent?: string;
}

export interface DemoSeller {
  key: 'north' | 'south';
  email: string;
  name: string;
}

export interface DemoProduct {
  seller: DemoSeller['key'];
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  currency: 'EUR';
  category: string;
  imageUrls: string[];
  attributes: Record<string, string | number | boolean>;
  /** Units on hand per region; some are low or zero on purpose. */
  stock: Record<string, number>;
  lowStockThreshold: number;
}

export const demoSellers: DemoSeller[] = [
  { key: 'north', email: 'ventas@tecnonorte.example', name: 'TecnoNorte' },
  { key: 'south', email: 'hola@casasur.example', name: 'Casa Sur' },
];

export const demoCategories: DemoCategory[] = [
  { slug: 'electronica', name: 'Electrónica' },
  { slug: 'portatiles', name: 'Portátiles', parent: 'electronica' },
  { slug: 'telefonos', name: 'Teléfonos', parent: 'electronica' },
  { slug: 'audio', name: 'Audio', parent: 'electronica' },
  { slug: 'hogar', name: 'Hogar' },
  { slug: 'cocina', name: 'Cocina', parent: 'hogar' },
  { slug: 'iluminacion', name: 'Iluminación', parent: 'hogar' },
  { slug: 'deportes', name: 'Deportes' },
  { slug: 'ciclismo', name: 'Ciclismo', parent: 'deportes' },
  { slug: 'libros', name: 'Libros' },
  { slug: 'moda', name: 'Moda' },
  { slug: 'juguetes', name: 'Juguetes' },
  { slug: 'jardin', name: 'Jardín' },
  { slug: 'alimentacion', name: 'Alimentación' },
];

interface Line {
  category: string;
  seller: DemoSeller['key'];
  /** Product kinds; each is combined with every variant. */
  kinds: Array<{ name: string; basePrice: number; description: string }>;
  variants: Array<{
    name: string;
    priceFactor: number;
    attributes: Record<string, string | number>;
  }>;
}

const lines: Line[] = [
  {
    category: 'portatiles',
    seller: 'north',
    kinds: [
      {
        name: 'Portátil Ultraligero 13"',
        basePrice: 89900,
        description: 'Portátil ligero para trabajar en cualquier parte, batería de todo el día.',
      },
      {
        name: 'Portátil Pro 15"',
        basePrice: 149900,
        description: 'Laptop de alto rendimiento para creativos y desarrolladores.',
      },
      {
        name: 'Portátil Gaming 17"',
        basePrice: 179900,
        description: 'Pantalla de 165 Hz y gráfica dedicada para jugar a tope.',
      },
    ],
    variants: [
      { name: '8 GB / 256 GB', priceFactor: 1, attributes: { ram: '8 GB', storage: '256 GB' } },
      { name: '16 GB / 512 GB', priceFactor: 1.2, attributes: { ram: '16 GB', storage: '512 GB' } },
      { name: '32 GB / 1 TB', priceFactor: 1.5, attributes: { ram: '32 GB', storage: '1 TB' } },
    ],
  },
  {
    category: 'telefonos',
    seller: 'north',
    kinds: [
      {
        name: 'Smartphone Nube',
        basePrice: 39900,
        description: 'Teléfono 5G con cámara triple y carga rápida.',
      },
      {
        name: 'Smartphone Nube Max',
        basePrice: 69900,
        description: 'Pantalla grande, zoom óptico 5x y batería de dos días.',
      },
      {
        name: 'Teléfono Senior',
        basePrice: 7900,
        description: 'Teclas grandes, botón SOS y base de carga.',
      },
    ],
    variants: [
      { name: 'Negro', priceFactor: 1, attributes: { color: 'negro' } },
      { name: 'Blanco', priceFactor: 1, attributes: { color: 'blanco' } },
      { name: 'Verde salvia', priceFactor: 1.05, attributes: { color: 'verde' } },
    ],
  },
  {
    category: 'audio',
    seller: 'north',
    kinds: [
      {
        name: 'Auriculares Inalámbricos',
        basePrice: 7900,
        description: 'Cancelación de ruido activa y 30 horas de batería.',
      },
      {
        name: 'Altavoz Bluetooth',
        basePrice: 4900,
        description: 'Resistente al agua, sonido 360° para la playa o la piscina.',
      },
      {
        name: 'Barra de Sonido',
        basePrice: 19900,
        description: 'Diálogos claros y graves profundos para tu televisor.',
      },
    ],
    variants: [
      { name: 'Edición Estándar', priceFactor: 1, attributes: { edition: 'estándar' } },
      { name: 'Edición Plus', priceFactor: 1.3, attributes: { edition: 'plus' } },
    ],
  },
  {
    category: 'cocina',
    seller: 'south',
    kinds: [
      {
        name: 'Sartén Antiadherente',
        basePrice: 2490,
        description: 'Aluminio forjado, apta para inducción, sin PFOA.',
      },
      {
        name: 'Cafetera Italiana',
        basePrice: 2990,
        description: 'Acero inoxidable, el café de siempre en tu cocina.',
      },
      {
        name: 'Juego de Cuchillos',
        basePrice: 5990,
        description: 'Acero alemán con taco de madera de haya.',
      },
      {
        name: 'Olla a Presión',
        basePrice: 7490,
        description: 'Cocina hasta un 70% más rápido con total seguridad.',
      },
    ],
    variants: [
      { name: 'Pequeño', priceFactor: 1, attributes: { size: 'S' } },
      { name: 'Mediano', priceFactor: 1.25, attributes: { size: 'M' } },
      { name: 'Grande', priceFactor: 1.5, attributes: { size: 'L' } },
    ],
  },
  {
    category: 'iluminacion',
    seller: 'south',
    kinds: [
      {
        name: 'Lámpara de Pie',
        basePrice: 6990,
        description: 'Luz cálida regulable para el salón.',
      },
      {
        name: 'Bombilla LED Inteligente',
        basePrice: 1490,
        description: 'Millones de colores, control por voz y por app.',
      },
      {
        name: 'Guirnalda de Luces',
        basePrice: 1990,
        description: 'Para terrazas y balcones, con panel solar.',
      },
    ],
    variants: [
      { name: 'Blanco cálido', priceFactor: 1, attributes: { light: 'cálida' } },
      { name: 'Blanco frío', priceFactor: 1, attributes: { light: 'fría' } },
      { name: 'Pack de 3', priceFactor: 2.6, attributes: { pack: 3 } },
    ],
  },
  {
    category: 'ciclismo',
    seller: 'south',
    kinds: [
      {
        name: 'Casco de Ciclismo',
        basePrice: 4990,
        description: 'Ventilado, ligero y con luz trasera integrada.',
      },
      {
        name: 'Luces para Bicicleta',
        basePrice: 2490,
        description: 'Delantera y trasera, recargables por USB.',
      },
      {
        name: 'Candado en U',
        basePrice: 3490,
        description: 'Acero endurecido, nivel de seguridad 9/15.',
      },
    ],
    variants: [
      { name: 'Talla S', priceFactor: 1, attributes: { size: 'S' } },
      { name: 'Talla M', priceFactor: 1, attributes: { size: 'M' } },
      { name: 'Talla L', priceFactor: 1.05, attributes: { size: 'L' } },
    ],
  },
  {
    category: 'deportes',
    seller: 'south',
    kinds: [
      {
        name: 'Esterilla de Yoga',
        basePrice: 2490,
        description: 'Antideslizante, 6 mm, con correa de transporte.',
      },
      { name: 'Mancuernas Ajustables', basePrice: 8990, description: 'De 2 a 20 kg en segundos.' },
      { name: 'Balón de Fútbol', basePrice: 1990, description: 'Cosido a máquina, talla oficial.' },
      {
        name: 'Zapatillas de Running',
        basePrice: 8990,
        description: 'Amortiguación reactiva para entrenar a diario.',
      },
    ],
    variants: [
      { name: 'Azul', priceFactor: 1, attributes: { color: 'azul' } },
      { name: 'Rojo', priceFactor: 1, attributes: { color: 'rojo' } },
      { name: 'Negro', priceFactor: 1.1, attributes: { color: 'negro' } },
    ],
  },
  {
    category: 'libros',
    seller: 'north',
    kinds: [
      {
        name: 'Novela: El Mercado de los Sueños',
        basePrice: 1890,
        description: 'Una saga familiar entre Valparaíso y Sevilla.',
      },
      {
        name: 'Guía de TypeScript',
        basePrice: 3490,
        description: 'Del primer tipo a los sistemas grandes, con ejercicios.',
      },
      {
        name: 'Cocina Mediterránea',
        basePrice: 2490,
        description: '120 recetas de temporada con fotos a todo color.',
      },
      {
        name: 'Atlas del Mundo',
        basePrice: 3990,
        description: 'Mapas actualizados y datos de cada país.',
      },
    ],
    variants: [
      { name: 'Tapa blanda', priceFactor: 1, attributes: { format: 'tapa blanda' } },
      { name: 'Tapa dura', priceFactor: 1.4, attributes: { format: 'tapa dura' } },
      { name: 'Edición de bolsillo', priceFactor: 0.6, attributes: { format: 'bolsillo' } },
    ],
  },
  {
    category: 'moda',
    seller: 'south',
    kinds: [
      {
        name: 'Camiseta de Algodón Orgánico',
        basePrice: 1990,
        description: 'Corte clásico, tejida en Portugal.',
      },
      {
        name: 'Sudadera con Capucha',
        basePrice: 3990,
        description: 'Felpa suave por dentro, bolsillo canguro.',
      },
      {
        name: 'Vaqueros Rectos',
        basePrice: 4990,
        description: 'Denim de algodón con un toque elástico.',
      },
      {
        name: 'Chaqueta Impermeable',
        basePrice: 7990,
        description: 'Ligera, transpirable y plegable en su bolsillo.',
      },
    ],
    variants: [
      { name: 'Talla S', priceFactor: 1, attributes: { size: 'S' } },
      { name: 'Talla M', priceFactor: 1, attributes: { size: 'M' } },
      { name: 'Talla L', priceFactor: 1, attributes: { size: 'L' } },
      { name: 'Talla XL', priceFactor: 1.05, attributes: { size: 'XL' } },
    ],
  },
  {
    category: 'juguetes',
    seller: 'north',
    kinds: [
      {
        name: 'Bloques de Construcción',
        basePrice: 2990,
        description: '500 piezas compatibles, a partir de 4 años.',
      },
      {
        name: 'Puzle de 1000 Piezas',
        basePrice: 1490,
        description: 'Paisajes de la costa, cartón reciclado.',
      },
      {
        name: 'Coche Teledirigido',
        basePrice: 3990,
        description: 'Tracción total y batería recargable.',
      },
    ],
    variants: [
      { name: 'Serie Ciudad', priceFactor: 1, attributes: { theme: 'ciudad' } },
      { name: 'Serie Espacio', priceFactor: 1.1, attributes: { theme: 'espacio' } },
      { name: 'Serie Selva', priceFactor: 1.05, attributes: { theme: 'selva' } },
    ],
  },
  {
    category: 'jardin',
    seller: 'south',
    kinds: [
      {
        name: 'Manguera Extensible',
        basePrice: 2990,
        description: 'Se alarga hasta 3 veces, con pistola de 7 chorros.',
      },
      {
        name: 'Tijeras de Podar',
        basePrice: 1990,
        description: 'Hoja de acero templado y mango ergonómico.',
      },
      {
        name: 'Macetero Autorriego',
        basePrice: 2490,
        description: 'Depósito de agua para dos semanas.',
      },
    ],
    variants: [
      { name: '15 m', priceFactor: 1, attributes: { length: '15 m' } },
      { name: '30 m', priceFactor: 1.5, attributes: { length: '30 m' } },
    ],
  },
  {
    category: 'alimentacion',
    seller: 'south',
    kinds: [
      {
        name: 'Aceite de Oliva Virgen Extra',
        basePrice: 1290,
        description: 'Primera prensada en frío, cosecha temprana.',
      },
      {
        name: 'Café en Grano de Colombia',
        basePrice: 990,
        description: 'Tueste medio, notas de cacao y caramelo.',
      },
      { name: 'Miel de Azahar', basePrice: 790, description: 'Cruda, de colmenas de la huerta.' },
      { name: 'Chocolate Negro 85%', basePrice: 390, description: 'Cacao de comercio justo.' },
    ],
    variants: [
      { name: '250 g', priceFactor: 1, attributes: { weight: '250 g' } },
      { name: '500 g', priceFactor: 1.8, attributes: { weight: '500 g' } },
      { name: '1 kg', priceFactor: 3.2, attributes: { weight: '1 kg' } },
    ],
  },
];

function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** A deterministic spread: the same index always gives the same stock. */
function stockFor(index: number, regions: readonly string[]): Record<string, number> {
  const stock: Record<string, number> = {};
  regions.forEach((region, r) => {
    const n = (index * 37 + r * 11) % 53;
    // Every 13th product is out of stock in the first region, every 7th runs low.
    stock[region] = r === 0 && index % 13 === 0 ? 0 : index % 7 === 0 ? 2 + (n % 3) : 10 + n;
  });
  return stock;
}

/** Each seller's two house brands; the second is the premium one. */
const brands: Record<DemoSeller['key'], Array<{ name: string; priceFactor: number }>> = {
  north: [
    { name: 'Nórdika', priceFactor: 1 },
    { name: 'Voltia', priceFactor: 1.15 },
  ],
  south: [
    { name: 'Olivar', priceFactor: 1 },
    { name: 'Terra', priceFactor: 1.12 },
  ],
};

/** Shop prices: ….99 above 10 €, ….x9 below. */
function shopPrice(raw: number): number {
  return raw >= 1000
    ? Math.round(raw / 100) * 100 - 1
    : Math.max(99, Math.round(raw / 10) * 10 - 1);
}

/** The demo products: every kind of every line, in each brand and variant (242 in all). */
export function demoProducts(regions: readonly string[]): DemoProduct[] {
  const products: DemoProduct[] = [];
  for (const line of lines) {
    for (const brand of brands[line.seller])
      for (const kind of line.kinds) {
        for (const variant of line.variants) {
          const index = products.length;
          const price = shopPrice(kind.basePrice * variant.priceFactor * brand.priceFactor);
          products.push({
            seller: line.seller,
            sku: `${slugify(brand.name)}-${slugify(kind.name)}-${slugify(variant.name)}`.slice(
              0,
              64,
            ),
            name: `${brand.name} ${kind.name} · ${variant.name}`,
            description: kind.description,
            priceMinor: price,
            currency: 'EUR',
            category: line.category,
            imageUrls: [`/images/demo/${line.category}.svg`],
            attributes: { ...variant.attributes },
            stock: stockFor(index, regions),
            lowStockThreshold: 5,
          });
        }
      }
  }
  return products;
}
