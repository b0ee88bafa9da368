package sim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Shopify timestamps are fixed so pages are reproducible byte for byte.
const shopifyTime = "2026-10-02T09:14:27-04:00"

func shopifyImage(p *Product) string {
	if p.Image != "" {
		return p.Image
	}
	return "https://cdn.shopify.com/s/files/1/0612/4481/7254/files/" + p.Handle + ".jpg?v=1727874867"
}

// protocolRelative turns https://cdn.shopify.com/... into //cdn.shopify.com/...
// as the .js endpoint writes its images.
func protocolRelative(u string) string {
	if i := strings.Index(u, "//"); i >= 0 {
		return u[i:]
	}
	return u
}

func shopifyAvailable(p *Product) bool {
	for _, v := range p.Variants {
		if v.InStock {
			return true
		}
	}
	return false
}

func shopifyPriceRange(p *Product) (lo, hi int64) {
	for i, v := range p.Variants {
		if i == 0 || v.PriceCents < lo {
			lo = v.PriceCents
		}
		if v.PriceCents > hi {
			hi = v.PriceCents
		}
	}
	return lo, hi
}

func shopifyVendor(p *Product) string {
	if p.Vendor != "" {
		return p.Vendor
	}
	return strings.Fields(p.Title)[0]
}

func shopifyTags(p *Product) []string {
	if p.Tags == nil {
		return []string{}
	}
	return p.Tags
}

// renderShopifyJS renders /products/{handle}.js: prices in minor units,
// images protocol-relative.
func renderShopifyJS(p *Product) []byte {
	pid, _ := strconv.ParseInt(p.SKU, 10, 64)
	lo, hi := shopifyPriceRange(p)
	img := protocolRelative(shopifyImage(p))
	variants := make([]map[string]any, len(p.Variants))
	for i, v := range p.Variants {
		variants[i] = map[string]any{
			"id": v.ID, "title": v.Title, "option1": v.Title, "option2": nil, "option3": nil,
			"sku": v.SKU, "requires_shipping": true, "taxable": true, "featured_image": nil,
			"available": v.InStock, "name": p.Title + " - " + v.Title, "public_title": v.Title,
			"options": []string{v.Title}, "price": v.PriceCents, "weight": 900,
			"compare_at_price": nil, "inventory_management": "shopify", "barcode": "",
			"requires_selling_plan": false, "selling_plan_allocations": []any{},
		}
	}
	doc := map[string]any{
		"id": pid, "title": p.Title, "handle": p.Handle,
		"description":  "<p>" + p.Title + "</p>",
		"published_at": shopifyTime, "created_at": shopifyTime,
		"vendor": shopifyVendor(p), "type": "Sneakers", "tags": shopifyTags(p),
		"price": lo, "price_min": lo, "price_max": hi, "available": shopifyAvailable(p),
		"price_varies": lo != hi, "compare_at_price": nil, "compare_at_price_min": 0,
		"compare_at_price_max": 0, "compare_at_price_varies": false,
		"variants": variants, "images": []string{img}, "featured_image": img,
		"options": []map[string]any{{"name": "Size", "position": 1, "values": variantTitles(p)}},
		"url":     "/products/" + p.Handle,
		"media": []map[string]any{{"alt": nil, "id": pid + 1, "position": 1, "preview_image": map[string]any{
			"aspect_ratio": 1.0, "height": 1600, "width": 1600, "src": "https:" + img}, "media_type": "image", "src": "https:" + img}},
		"requires_selling_plan": false, "selling_plan_groups": []any{},
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal product.js: %v", err))
	}
	return out
}

func variantTitles(p *Product) []string {
	out := make([]string, len(p.Variants))
	for i, v := range p.Variants {
		out[i] = v.Title
	}
	return out
}

// renderShopifyProductsJSON renders one page of /products.json: prices as
// decimal strings, absolute image URLs, an empty array past the end.
func renderShopifyProductsJSON(ps []Product) []byte {
	list := make([]map[string]any, 0, len(ps))
	for i := range ps {
		p := &ps[i]
		pid, _ := strconv.ParseInt(p.SKU, 10, 64)
		variants := make([]map[string]any, len(p.Variants))
		vids := make([]int64, len(p.Variants))
		for j, v := range p.Variants {
			vids[j] = v.ID
			variants[j] = map[string]any{
				"id": v.ID, "title": v.Title, "option1": v.Title, "option2": nil, "option3": nil,
				"sku": v.SKU, "requires_shipping": true, "taxable": true, "featured_image": nil,
				"available": v.InStock, "price": decimalOf(v.PriceCents), "grams": 900,
				"compare_at_price": nil, "position": j + 1, "product_id": pid,
				"created_at": shopifyTime, "updated_at": shopifyTime,
			}
		}
		list = append(list, map[string]any{
			"id": pid, "title": p.Title, "handle": p.Handle, "body_html": "<p>" + p.Title + "</p>",
			"published_at": shopifyTime, "created_at": shopifyTime, "updated_at": shopifyTime,
			"vendor": shopifyVendor(p), "product_type": "Sneakers", "tags": shopifyTags(p),
			"variants": variants,
			"images": []map[string]any{{"id": pid + 7, "created_at": shopifyTime, "position": 1,
				"updated_at": shopifyTime, "product_id": pid, "variant_ids": vids,
				"src": shopifyImage(p), "width": 1600, "height": 1600}},
			"options": []map[string]any{{"name": "Size", "position": 1, "values": variantTitles(p)}},
		})
	}
	out, err := json.Marshal(map[string]any{"products": list})
	if err != nil {
		panic(fmt.Sprintf("sim: marshal products.json: %v", err))
	}
	return out
}

// renderShopifyNotFound is a store's 404 page.
func renderShopifyNotFound(store string) []byte {
	return fmt.Appendf(nil, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>404 Not Found &ndash; %s</title></head><body class=\"template-404\"><main id=\"MainContent\"><h1>Page not found</h1><p>The page you were looking for does not exist.</p><a href=\"/collections/all\">Continue shopping</a></main></body></html>\n", esc(store))
}

// renderShopifyThrottle is the page Shopify serves with 429 or 430.
func renderShopifyThrottle() []byte {
	return []byte("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Access denied</title></head><body><div class=\"page\"><h1>Access denied</h1><p>This page is temporarily unavailable because a device from your location is sending large amounts of web requests.</p><p>Please try again later.</p></div></body></html>\n")
}

func renderShopifyUnavailable() []byte {
	return []byte("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>This store is unavailable right now. Please check back soon.</p></body></html>\n")
}
