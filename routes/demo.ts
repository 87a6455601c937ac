import { Hono } from 'hono';
export const demoRoutes = new Hono();
