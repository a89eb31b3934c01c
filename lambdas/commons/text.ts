/**
 * `text` cut to `max` characters, saying how much was cut. Alarm reasons and check results come
 * from outside and can be arbitrarily long; what is recorded and sent must fit DynamoDB and SNS.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.length - max;
  return `${text.slice(0, max)}... [truncated ${cut} characters]`;
}
