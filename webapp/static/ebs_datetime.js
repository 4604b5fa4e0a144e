// The date-time picker of every moment field (webapp/localtime.py, LocalDateTimeWidget):
// FAB's bootstrap-datepicker for the day, two selects for the time, writing the field as
// the locale writes a moment ("05.12.2026 18:20" in Russian, "2026-12-05 18:20" else).
// The server reads the text on the ISP's clock; the browser's own zone plays no part, so
// every Date here is a calendar day at UTC midnight, as bootstrap-datepicker keeps them.
(function ($) {
  if (window.ebsDatetimeLoaded || !$.fn.datepicker) { return; }
  window.ebsDatetimeLoaded = true;

  $.fn.datepicker.dates.ru = {
    days: ['Воскресенье', 'Понедельник', 'Вторник', 'Среда', 'Четверг', 'Пятница', 'Суббота'],
    daysShort: ['Вск', 'Пнд', 'Втр', 'Срд', 'Чтв', 'Птн', 'Суб'],
    daysMin: ['Вс', 'Пн', 'Вт', 'Ср', 'Чт', 'Пт', 'Сб'],
    months: ['Январь', 'Февраль', 'Март', 'Апрель', 'Май', 'Июнь', 'Июль', 'Август',
             'Сентябрь', 'Октябрь', 'Ноябрь', 'Декабрь'],
    monthsShort: ['Янв', 'Фев', 'Мар', 'Апр', 'Май', 'Июн', 'Июл', 'Авг', 'Сен', 'Окт',
                  'Ноя', 'Дек'],
    today: 'Сегодня',
    clear: 'Очистить',
    format: 'dd.mm.yyyy',
    weekStart: 1,
    monthsTitle: 'Месяцы'
  };

  // 05.12.2026 or 2026-12-05, then optionally 18:20[:05] (as webapp.localtime reads).
  var TYPED = /^\s*(?:(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{4})-(\d{1,2})-(\d{1,2}))(?:(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$/;

  function two(n) { return (n < 10 ? '0' : '') + n; }

  function parse(text) {
    var m = TYPED.exec(text || '');
    if (!m) { return null; }
    var y = +(m[3] || m[4]), mo = +(m[2] || m[5]), d = +(m[1] || m[6]);
    var day = new Date(Date.UTC(y, mo - 1, d));
    if (day.getUTCMonth() !== mo - 1) { return null; }
    return {day: day, hour: m[7] === undefined ? null : +m[7], minute: m[8] === undefined ? null : +m[8],
            second: m[9] === undefined ? null : +m[9]};
  }

  function writeDay(date, pattern) {
    var d = two(date.getUTCDate()), m = two(date.getUTCMonth() + 1), y = date.getUTCFullYear();
    return pattern === 'dd.mm.yyyy' ? d + '.' + m + '.' + y : y + '-' + m + '-' + d;
  }

  function options(count, selected) {
    var html = '';
    for (var i = 0; i < count; i += 1) {
      html += '<option value="' + i + '"' + (i === selected ? ' selected' : '') + '>' + two(i) + '</option>';
    }
    return html;
  }

  function setUp(group) {
    var input = group.find('input');
    var pattern = group.data('day-format') || 'yyyy-mm-dd';
    var language = $.fn.datepicker.dates[group.data('language')] ? group.data('language') : 'en';

    function current() { return parse(input.val()); }

    function write(day, hour, minute, second) {
      var text = writeDay(day, pattern) + ' ' + two(hour) + ':' + two(minute);
      input.val(second ? text + ':' + two(second) : text).trigger('change');
    }

    group.datepicker({
      format: {
        // The day the operator clicked, with the time the field already holds.
        toDisplay: function (date) {
          var now = current();
          var text = writeDay(date, pattern) + ' ' + two(now && now.hour !== null ? now.hour : 0) +
            ':' + two(now && now.minute !== null ? now.minute : 0);
          return now && now.second ? text + ':' + two(now.second) : text;
        },
        toValue: function (text) {
          var typed = parse(text);
          return typed ? typed.day : null;
        }
      },
      language: language,
      weekStart: 1,
      todayHighlight: true,
      forceParse: false,
      showOnFocus: false,
      keyboardNavigation: false,
      autoclose: false,
      orientation: 'bottom auto'
    });

    var picker = group.data('datepicker').picker;
    var time = $('<div class="ebs-datetime-time form-inline text-center" style="padding: 4px">' +
      '<select class="form-control input-sm ebs-hour"></select> : ' +
      '<select class="form-control input-sm ebs-minute"></select> ' +
      '<button type="button" class="btn btn-primary btn-sm ebs-datetime-done">OK</button></div>');
    picker.append(time);

    // The picker reads the field on keyup only: text filled in otherwise (pasted,
    // autofilled) is read when it opens and as it changes.
    input.on('input', function () { group.datepicker('update'); });
    group.on('show', function () {
      group.datepicker('update');
      var now = current();
      time.find('.ebs-hour').html(options(24, now && now.hour !== null ? now.hour : 0));
      time.find('.ebs-minute').html(options(60, now && now.minute !== null ? now.minute : 0));
    });
    time.on('change', 'select', function () {
      var now = current();
      var day = now ? now.day : group.datepicker('getUTCDate');
      if (!day) {
        var today = new Date();
        day = new Date(Date.UTC(today.getFullYear(), today.getMonth(), today.getDate()));
      }
      write(day, +time.find('.ebs-hour').val(), +time.find('.ebs-minute').val(), 0);
    });
    time.on('click', '.ebs-datetime-done', function () { group.datepicker('hide'); });
  }

  // FAB's list filters ask for a "datetimepicker" it does not ship: give them the day picker.
  if (!$.fn.datetimepicker) {
    $.fn.datetimepicker = function () {
      return this.datepicker({format: 'yyyy-mm-dd', forceParse: false, autoclose: true});
    };
  }

  $(function () {
    $('.ebs-datetime').each(function () { setUp($(this)); });
  });
}(jQuery));
